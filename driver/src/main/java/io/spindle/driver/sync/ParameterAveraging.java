package io.spindle.driver.sync;

import io.spindle.config.SyncMode;
import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.ParameterSync;
import io.spindle.driver.RoundResult;
import io.spindle.sync.AveragingAggregator;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.ModelSpec;
import io.spindle.worker.PartitionTrainer;
import java.util.Collections;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * Parameter averaging, one Spark job per round of K steps.
 *
 * <p>Protocol of a round: the driver broadcasts the parameters and the whole optimiser state; each
 * worker applies K local global steps ({@link io.spindle.optim.GlobalStep}) to its own copy, each
 * from its mean gradient over its share of the next global batch, at global iterations {@code
 * iteration..iteration+K-1} (the schedule's rates and the dropout masks of those steps); the driver
 * replaces the global parameters and optimiser state by the workers' end points averaged with
 * weights proportional to the examples each worker saw. With K = 1 and plain SGD this equals
 * synchronous gradient sharing, with or without dropout.
 */
public final class ParameterAveraging implements ParameterSync {
  private final JavaSparkContext sc;
  private final BatchLayout layout;
  private final int localSteps;

  public ParameterAveraging(JavaSparkContext sc, BatchLayout layout, int localSteps) {
    if (localSteps <= 0) {
      throw new IllegalArgumentException("localSteps must be > 0, got " + localSteps);
    }
    this.sc = sc;
    this.layout = layout;
    this.localSteps = localSteps;
  }

  @Override
  public String name() {
    return SyncMode.PARAMETER_AVERAGING.configName();
  }

  @Override
  public RoundResult round(
      JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model) {
    long start = System.nanoTime();
    ModelSpec spec = model.spec();
    BatchLayout layout = this.layout;
    int k = Math.min(localSteps, maxSteps);
    Broadcast<FlatVector> params = sc.broadcast(FlatVector.copyOf(model.params()));
    Broadcast<FlatVector> state = sc.broadcast(FlatVector.copyOf(model.globalStep().state()));
    try {
      AveragingAggregator avg =
          batches
              .mapPartitionsWithIndex(
                  (worker, partition) ->
                      Collections.singletonList(
                              PartitionTrainer.localSteps(
                                  spec,
                                  layout,
                                  worker,
                                  params.value(),
                                  state.value(),
                                  partition,
                                  step,
                                  k,
                                  iteration))
                          .iterator(),
                  true)
              .reduce(AveragingAggregator::merge);
      if (avg.examples() == 0) {
        throw new IllegalStateException("round at step " + step + " has no examples");
      }
      avg.averageParams().copyTo(model.params());
      if (model.globalStep().stateLength() > 0) {
        model.globalStep().setState(avg.averageState().toINDArray());
      }
      return new RoundResult(
          avg.steps(),
          avg.examples(),
          avg.correct(),
          avg.meanLoss(),
          (System.nanoTime() - start) / 1e9);
    } finally {
      params.destroy();
      state.destroy();
    }
  }
}
