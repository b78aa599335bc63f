package io.spindle.driver;

import io.spindle.data.MiniBatch;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;

/**
 * How the workers' results merge into the global model. The coordinator calls {@link #round}
 * repeatedly over an epoch; each call runs one or more global steps on the executors and updates
 * the global model in place. The strategies live in {@code io.spindle.driver.sync}, built by {@code
 * SyncStrategies.create}; every one of them applies the global update through {@link
 * io.spindle.optim.GlobalStep}.
 *
 * <p>Contract: {@code batches} has one partition per worker, each holding one mini-batch per global
 * step of the epoch in step order; a round starts at {@code step}, runs at most {@code maxSteps}
 * steps, and the global iteration of its first step is {@code iteration}.
 */
public interface ParameterSync {
  RoundResult round(
      JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model);

  /**
   * Asks the strategy to report progress to {@code sink} every {@code every} global steps while a
   * round runs, on the thread that called {@link #round}. Strategies whose rounds end near every
   * {@code every} steps anyway (one step, or K steps) report nothing and keep this default.
   */
  default void reportProgress(int every, StepProgress.Sink sink) {}

  /** The config name of the strategy. */
  String name();

  /**
   * What the strategy measured about itself so far (traffic, time per step, ...), for the run's
   * summary under these keys; empty when it measures nothing.
   */
  default Map<String, Object> facts() {
    return Map.of();
  }
}
