package io.spindle.driver.sync;

import io.spindle.data.MiniBatch;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import org.apache.spark.api.java.JavaRDD;

/**
 * How the workers' results merge into the global model. The coordinator calls {@link #round}
 * repeatedly over an epoch; each call runs one or more global steps on the executors and updates
 * the global model in place.
 *
 * <p>Contract: {@code batches} has one partition per worker, each holding one mini-batch per global
 * step of the epoch in step order; a round starts at {@code step}, runs at most {@code maxSteps}
 * steps, and the global iteration of its first step is {@code iteration}.
 */
public interface ParameterSync {
  RoundResult round(
      JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model);

  /** The config name of the strategy. */
  String name();

  /** A seed for worker {@code worker}'s dropout masks at global iteration {@code iteration}. */
  static long dropoutSeed(long seed, long iteration, int worker) {
    return io.spindle.worker.PartitionTrainer.dropoutSeed(seed, iteration, worker);
  }

  /** The batch of {@code step} from a worker's step-ordered partition. */
  static MiniBatch batchAt(java.util.Iterator<MiniBatch> partition, int step) {
    for (int i = 0; i < step; i++) {
      partition.next();
    }
    MiniBatch batch = partition.next();
    if (batch.step() != step) {
      throw new IllegalStateException(
          "worker partition out of order: expected the batch of step "
              + step
              + ", found step "
              + batch.step());
    }
    return batch;
  }
}
