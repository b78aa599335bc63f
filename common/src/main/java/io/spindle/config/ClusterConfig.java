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
 * @param compression collective: how gradients travel between workers: none (exact fp32), bf16,
 *     powersgd or topk; the lossy ones keep error-feedback state (see {@link Compression})
 * @param powersgdRank collective with compression powersgd: the rank r of each weight matrix's
 *     factors (1 to {@value #MAX_POWERSGD_RANK})
 * @param topkFraction collective with compression topk: the share of the gradient's entries each
 *     worker sends per step, in (0, 1]
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
    Compression compression,
    int powersgdRank,
    double topkFraction,
    boolean shardOptimizer,
    int peerTimeoutSeconds,
    int executorWaitSeconds)
    implements java.io.Serializable {
  /** The longest {@code executorWaitSeconds} accepted: one day. */
  public static final int MAX_EXECUTOR_WAIT_SECONDS = 86_400;

  /** The largest {@code powersgdRank} accepted. */
  public static final int MAX_POWERSGD_RANK = 256;

  /** {@code powersgdRank} when the config does not set it. */
  public static final int DEFAULT_POWERSGD_RANK = 2;

  /** {@code topkFraction} when the config does not set it. */
  public static final double DEFAULT_TOPK_FRACTION = 0.01;

  /**
   * A cluster config with the collective engine's defaults (R = epoch, no compression, sharded, 120
   * s peer timeout, 120 s wait for executors).
   */
  public static ClusterConfig of(String master, int workers, SyncMode sync, int averagingSteps) {
    return new ClusterConfig(
        master,
        workers,
        sync,
        averagingSteps,
        0,
        0,
        Compression.NONE,
        DEFAULT_POWERSGD_RANK,
        DEFAULT_TOPK_FRACTION,
        true,
        120,
        120);
  }

  public ClusterConfig {
    master = master == null ? "" : master.trim();
    Check.positive("workers", workers);
    Check.notNull("sync", sync);
    Check.positive("averagingSteps", averagingSteps);
    Check.nonNegative("threadsPerWorker", threadsPerWorker);
    Check.nonNegative("roundSteps", roundSteps);
    Check.notNull("compression", compression);
    if (powersgdRank < 1 || powersgdRank > MAX_POWERSGD_RANK) {
      throw new ConfigException(
          "powersgdRank must be in [1, " + MAX_POWERSGD_RANK + "], got " + powersgdRank);
    }
    if (!(topkFraction > 0 && topkFraction <= 1)) {
      throw new ConfigException("topkFraction must be in (0, 1], got " + topkFraction);
    }
    if (compression != Compression.NONE && sync != SyncMode.COLLECTIVE) {
      throw new ConfigException(
          "compression "
              + compression.configName()
              + " needs sync collective (the only engine that compresses), got sync "
              + sync.configName());
    }
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

  /** What the collective engine's workers need to build the gradient exchange. */
  public CompressionSpec compressionSpec() {
    return new CompressionSpec(compression, powersgdRank, topkFraction);
  }
}
