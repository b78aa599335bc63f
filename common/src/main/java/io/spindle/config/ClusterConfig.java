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
    int peerTimeoutSeconds)
    implements java.io.Serializable {
  /** A cluster config with the collective engine's defaults (R = epoch, fp32, sharded, 120 s). */
  public static ClusterConfig of(String master, int workers, SyncMode sync, int averagingSteps) {
    return new ClusterConfig(
        master, workers, sync, averagingSteps, 0, 0, WireFormat.FP32, true, 120);
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
  }
}
