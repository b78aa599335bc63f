package io.spindle.config;

/**
 * How the run is spread over Spark.
 *
 * @param master Spark master URL; empty means: take it from spark-submit, or local[workers] when
 *     there is none
 * @param workers number of data-parallel workers (Spark tasks per step)
 * @param sync gradient_sharing or parameter_averaging
 * @param averagingSteps K, local steps between averaging rounds (parameter_averaging only)
 * @param threadsPerWorker ND4J threads each worker uses (0 = cores of the machine / workers, at
 *     least 1)
 * @param roundSteps R, steps per barrier stage of the collective engine (0 = the rest of the epoch)
 * @param wire collective wire format: fp32 (exact) or bf16 (half the bytes)
 * @param shardOptimizer collective: each worker owns 1/N of the parameters and their optimiser
 *     state (ZeRO-1); false replicates the state on every worker
 * @param peerTimeoutSeconds collective: connect and read timeout between workers
 * @param executorWaitSeconds collective on a cluster: how long to wait for executors offering
 *     {@code workers} task slots before a barrier stage, before failing (exit 5); also bounds
 *     Spark's own slot check before each later round (0 = fail at once). In local mode too few
 *     slots are refused up front (exit 2).
 */
public record ClusterConfig(
    String master,
    int workers,
    SyncMode sync,
    int averagingSteps,
    int threadsPerWorker,
    int roundSteps,
    WireFormat wire,
    boolean shardOptimizer,
    int peerTimeoutSeconds,
    int executorWaitSeconds)
    implements java.io.Serializable {
  /** The longest {@code executorWaitSeconds} accepted: one day. */
  public static final int MAX_EXECUTOR_WAIT_SECONDS = 86_400;

  /**
   * A cluster config with the collective engine's defaults (R = epoch, fp32, sharded, 120 s peer
   * timeout, 120 s wait for executors).
   */
  public static ClusterConfig of(String master, int workers, SyncMode sync, int averagingSteps) {
    return new ClusterConfig(
        master, workers, sync, averagingSteps, 0, 0, WireFormat.FP32, true, 120, 120);
  }

  public ClusterConfig {
    master = master == null ? "" : master.trim();
    Check.positive("workers", workers);
    Check.notNull("sync", sync);
    Check.positive("averagingSteps", averagingSteps);
    Check.nonNegative("threadsPerWorker", threadsPerWorker);
    Check.nonNegative("roundSteps", roundSteps);
    Check.notNull("wire", wire);
    Check.positive("peerTimeoutSeconds", peerTimeoutSeconds);
    Check.nonNegative("executorWaitSeconds", executorWaitSeconds);
    if (executorWaitSeconds > MAX_EXECUTOR_WAIT_SECONDS) {
      throw new ConfigException(
          "executorWaitSeconds must be <= "
              + MAX_EXECUTOR_WAIT_SECONDS
              + " (one day), got "
              + executorWaitSeconds);
    }
  }
}
