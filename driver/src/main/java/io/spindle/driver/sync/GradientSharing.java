package io.spindle.driver.sync;

import io.spindle.config.SyncMode;
import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.ParameterSync;
import io.spindle.driver.RoundResult;
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
 * <p>Protocol of a step: the driver broadcasts the current parameters; every worker computes the
 * summed loss gradient over its share of the global batch; the shares are summed (weighted by
 * example count, since each is a sum over its examples) in {@link GradientAggregator}; the driver
 * applies the global step to the sum ({@link io.spindle.optim.GlobalStep}: mean over the global
 * batch, penalty, optimiser, max-norm). N workers thus compute exactly what one worker would on the
 * global batch.
 */
public final class GradientSharing implements ParameterSync {
  private final JavaSparkContext sc;
  private final BatchLayout layout;

  public GradientSharing(JavaSparkContext sc, BatchLayout layout) {
    this.sc = sc;
    this.layout = layout;
  }

  @Override
  public String name() {
    return SyncMode.GRADIENT_SHARING.configName();
  }

  @Override
  public RoundResult round(
      JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model) {
    long start = System.nanoTime();
    ModelSpec spec = model.spec();
    BatchLayout layout = this.layout;
    Broadcast<FlatVector> params = sc.broadcast(FlatVector.copyOf(model.params()));
    try {
      GradientAggregator sum =
          batches
              .mapPartitionsWithIndex(
                  (worker, partition) ->
                      Collections.singletonList(
                              PartitionTrainer.gradient(
                                  spec, layout, worker, params.value(), partition, step, iteration))
                          .iterator(),
                  true)
              .reduce(GradientAggregator::merge);
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
