package io.spindle.driver.sync;

import io.spindle.config.SyncMode;
import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.ParameterSync;
import io.spindle.driver.RoundResult;
import io.spindle.driver.WorkerPool;
import io.spindle.sync.GradientAggregator;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.ModelSpec;
import io.spindle.worker.PartitionTrainer;
import java.util.Collections;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * Synchronous gradient sharing, one Spark job per step.
 *
 * <p>Protocol of a step: the driver broadcasts the current parameters; one task per logical shard
 * computes the summed loss gradient over its shard of the global batch; the shards' sums are added
 * in shard order (weighted by example count, since each is a sum over its examples) in {@link
 * GradientAggregator}; the driver applies the global step to the sum ({@link
 * io.spindle.optim.GlobalStep}: mean over the global batch, penalty, optimiser, max-norm). N
 * workers thus compute exactly what one worker would on the global batch.
 */
public final class GradientSharing implements ParameterSync {
  private final JavaSparkContext sc;
  private final BatchLayout layout;
  private final WorkerPool pool;

  /** One task per logical shard of {@code layout} each step, on whatever executors there are. */
  public GradientSharing(JavaSparkContext sc, BatchLayout layout) {
    this(sc, layout, WorkerPool.fixed(layout.workers()));
  }

  /**
   * As above; before each step, on a cluster, at least {@code pool}'s floor of workers must be
   * alive ({@link WorkerPool#checkFloor}).
   */
  public GradientSharing(JavaSparkContext sc, BatchLayout layout, WorkerPool pool) {
    this.sc = sc;
    this.layout = layout;
    this.pool = pool;
  }

  @Override
  public String name() {
    return SyncMode.GRADIENT_SHARING.configName();
  }

  @Override
  public RoundResult round(
      JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model) {
    long start = System.nanoTime();
    pool.checkFloor();
    ModelSpec spec = model.spec();
    BatchLayout layout = this.layout;
    Broadcast<FlatVector> params = sc.broadcast(FlatVector.copyOf(model.params()));
    try {
      GradientAggregator sum =
          InOrder.reduce(
              batches.mapPartitionsWithIndex(
                  (worker, partition) ->
                      Collections.singletonList(
                              PartitionTrainer.gradient(
                                  spec, layout, worker, params.value(), partition, step, iteration))
                          .iterator(),
                  true),
              GradientAggregator::merge);
      if (sum.examples() == 0) {
        throw new IllegalStateException("step " + step + " has no examples on any worker");
      }
      model
          .globalStep()
          .apply(model.params(), sum.gradientSum().toINDArray(), sum.examples(), iteration);
      return new RoundResult(
          1, sum.examples(), sum.correct(), sum.meanLoss(), (System.nanoTime() - start) / 1e9);
    } finally {
      params.destroy();
    }
  }
}
