package io.spindle.config;

/**
 * How the run is spread over Spark.
 *
 * @param master Spark master URL; empty means: take it from spark-submit, or local[workers] when
 *     there is none
 * @param workers the most data-parallel workers a step runs on (a collective round's ring never has
 *     more members); also the default number of logical shards
 * @param minWorkers the fewest live workers the run goes on with (0 = {@code workers}: not
 *     elastic). A collective round is formed from the executors alive at its start, between {@code
 *     minWorkers} and {@code workers}; with fewer for {@code executorWaitSeconds} the run fails
 *     (exit 5), its last checkpoint intact
 * @param shards logical shards every global batch is cut into (0 = {@code workers}; else at least
 *     {@code workers}): the unit of data a worker trains on, one or more per worker and step, so
 *     the examples of a step and their grouping (batch norm's statistics) do not depend on how many
 *     workers are alive
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
 *     slots are refused up front (exit 2). With {@code minWorkers} below {@code workers}: how long
 *     a run waits with fewer than {@code minWorkers} workers alive before it fails.
 * @param ringTransport collective: how ring neighbours in the same JVM exchange values: {@code
 *     auto} (in memory, bit-identical to TCP) or {@code tcp} (always sockets); see {@link
 *     RingTransport}
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
    int executorWaitSeconds,
    int minWorkers,
    int shards,
    RingTransport ringTransport)
    implements java.io.Serializable {
  /** The longest {@code executorWaitSeconds} accepted: one day. */
  public static final int MAX_EXECUTOR_WAIT_SECONDS = 86_400;

  /** The most logical shards accepted. */
  public static final int MAX_SHARDS = 65_536;

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
        120,
        0,
        0);
  }

  /** A config with {@code ringTransport} {@code auto}, as before the key existed. */
  public ClusterConfig(
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
      int executorWaitSeconds,
      int minWorkers,
      int shards) {
    this(
        master,
        workers,
        sync,
        averagingSteps,
        threadsPerWorker,
        roundSteps,
        compression,
        powersgdRank,
        topkFraction,
        shardOptimizer,
        peerTimeoutSeconds,
        executorWaitSeconds,
        minWorkers,
        shards,
        RingTransport.AUTO);
  }

  /** As this config, with {@code ringTransport} replaced. */
  public ClusterConfig withRingTransport(RingTransport ringTransport) {
    return new ClusterConfig(
        master,
        workers,
        sync,
        averagingSteps,
        threadsPerWorker,
        roundSteps,
        compression,
        powersgdRank,
        topkFraction,
        shardOptimizer,
        peerTimeoutSeconds,
        executorWaitSeconds,
        minWorkers,
        shards,
        ringTransport);
  }

  /** As this config, with {@code workers} and {@code minWorkers} replaced. */
  public ClusterConfig withWorkers(int workers, int minWorkers) {
    return new ClusterConfig(
        master,
        workers,
        sync,
        averagingSteps,
        threadsPerWorker,
        roundSteps,
        compression,
        powersgdRank,
        topkFraction,
        shardOptimizer,
        peerTimeoutSeconds,
        executorWaitSeconds,
        minWorkers,
        shards,
        ringTransport);
  }

  /** The fewest live workers a run goes on with: {@code minWorkers}, or {@code workers} for 0. */
  public int workerFloor() {
    return minWorkers == 0 ? workers : minWorkers;
  }

  /** True when the run may go on with fewer than {@code workers} live workers. */
  public boolean elastic() {
    return workerFloor() < workers;
  }

  /** Logical shards per global batch: {@code shards}, or {@code workers} for 0. */
  public int shardCount() {
    return shards == 0 ? workers : shards;
  }

  public ClusterConfig {
    master = master == null ? "" : master.trim();
    // configs and checkpoints written before the key existed
    ringTransport = ringTransport == null ? RingTransport.AUTO : ringTransport;
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
    Check.nonNegative("minWorkers", minWorkers);
    if (minWorkers > workers) {
      throw new ConfigException(
          "minWorkers must be <= workers ("
              + workers
              + "), got "
              + minWorkers
              + "; workers is the most workers a run uses, minWorkers the fewest it goes on with");
    }
    Check.nonNegative("shards", shards);
    if (shards != 0 && (shards < workers || shards > MAX_SHARDS)) {
      throw new ConfigException(
          "shards must be 0 (= workers) or in ["
              + workers
              + " (workers), "
              + MAX_SHARDS
              + "], got "
              + shards
              + "; every worker trains on at least one shard of each step");
    }
    if (compression != Compression.NONE && minWorkers != 0 && minWorkers < workers) {
      throw new ConfigException(
          "cluster.compression "
              + compression.configName()
              + " with cluster.minWorkers "
              + minWorkers
              + " < cluster.workers "
              + workers
              + " is not supported: compressed exchanges keep per-rank error-feedback state that"
              + " has no meaning when the worker count changes; set cluster.compression: none for"
              + " an elastic run, or cluster.minWorkers: 0 (or = workers) to compress");
    }
  }

  /** What the collective engine's workers need to build the gradient exchange. */
  public CompressionSpec compressionSpec() {
    return new CompressionSpec(compression, powersgdRank, topkFraction);
  }
}
