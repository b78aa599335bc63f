package io.spindle.driver.sync;

import io.spindle.config.SyncMode;
import io.spindle.data.MiniBatch;
import io.spindle.driver.GlobalModel;
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
 * divides by the global batch size, adds the penalty gradient and applies one optimiser step. N
 * workers thus compute exactly what one worker would on the global batch.
 */
public final class GradientSharing implements ParameterSync {
  private final JavaSparkContext sc;

  public GradientSharing(JavaSparkContext sc) {
    this.sc = sc;
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
    Broadcast<FlatVector> params = sc.broadcast(FlatVector.copyOf(model.params()));
    try {
      GradientAggregator sum =
          batches
              .mapPartitionsWithIndex(
                  (worker, partition) -> {
                    MiniBatch batch = ParameterSync.batchAt(partition, step);
                    long seed = ParameterSync.dropoutSeed(spec.seed(), iteration, worker);
                    return Collections.singletonList(
                            PartitionTrainer.gradient(spec, params.value(), batch, seed))
                        .iterator();
                  },
                  true)
              .reduce(GradientAggregator::merge);
      if (sum.examples() == 0) {
        throw new IllegalStateException("step " + step + " has no examples on any worker");
      }
      model.applyGradientSum(sum.gradientSum().toINDArray(), sum.examples(), iteration);
      return new RoundResult(
          1, sum.examples(), sum.correct(), sum.meanLoss(), (System.nanoTime() - start) / 1e9);
    } finally {
      params.destroy();
    }
  }
}
