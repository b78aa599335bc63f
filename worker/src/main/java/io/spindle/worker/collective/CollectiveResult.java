package io.spindle.worker.collective;

import io.spindle.tensor.FlatVector;
import java.io.Serializable;

/**
 * What one peer returns at the end of a round: the parameters (every peer holds the same; rank 0
 * sends them), its optimiser state (its shard when sharded, rank 0's whole state otherwise), its
 * gradient exchange's state (every rank: error-feedback residuals differ by worker), and its
 * counters. A plain class, not a record: Spark's Kryo cannot rebuild records.
 *
 * <p>With the round's state off Spark ({@link #raw()}: the task uploaded those values to the
 * driver's {@link Rendezvous} server), the Spark result carries none of them, only their SHA-256
 * digests and the task's stage attempt; the driver takes the uploads of that attempt with those
 * digests and puts them in with {@link #withState}.
 */
public final class CollectiveResult implements Serializable {
  private static final long serialVersionUID = 1L;
  final int rank;
  final FlatVector params;
  final FlatVector state;
  final int stateFrom;
  final int stateTo;
  final double lossSum;
  final long examples;
  final long correct;
  final int steps;
  final long bytesSent;
  final long collectiveNanos;
  final long computeNanos;
  final long codecNanos;
  final long progressNanos;
  final long progressSenderCpuNanos;
  final byte[] exchangeState;
  final int startHits;
  final int startBuilt;
  final int startMisses;
  final long startBytesFetched;
  final String computePrecision;
  final RoundTimeline timeline;
  final int attempt;
  final String paramsDigest;
  final String stateDigest;
  final String exchangeDigest;
  final boolean raw;
  final long uploadedBytes;

  /** A task's result (made by {@link CollectiveTrainer}; public for the driver's tests). */
  public CollectiveResult(
      int rank,
      FlatVector params,
      FlatVector state,
      int stateFrom,
      int stateTo,
      double lossSum,
      long examples,
      long correct,
      int steps,
      long bytesSent,
      long collectiveNanos,
      long computeNanos,
      long codecNanos,
      long progressNanos,
      long progressSenderCpuNanos,
      byte[] exchangeState,
      int startHits,
      int startBuilt,
      int startMisses,
      long startBytesFetched,
      String computePrecision,
      RoundTimeline timeline,
      int attempt,
      String paramsDigest,
      String stateDigest,
      String exchangeDigest,
      boolean raw,
      long uploadedBytes) {
    this.rank = rank;
    this.params = params;
    this.state = state;
    this.stateFrom = stateFrom;
    this.stateTo = stateTo;
    this.lossSum = lossSum;
    this.examples = examples;
    this.correct = correct;
    this.steps = steps;
    this.bytesSent = bytesSent;
    this.collectiveNanos = collectiveNanos;
    this.computeNanos = computeNanos;
    this.codecNanos = codecNanos;
    this.progressNanos = progressNanos;
    this.progressSenderCpuNanos = progressSenderCpuNanos;
    this.exchangeState = exchangeState;
    this.startHits = startHits;
    this.startBuilt = startBuilt;
    this.startMisses = startMisses;
    this.startBytesFetched = startBytesFetched;
    this.computePrecision = computePrecision;
    this.timeline = timeline;
    this.attempt = attempt;
    this.paramsDigest = paramsDigest;
    this.stateDigest = stateDigest;
    this.exchangeDigest = exchangeDigest;
    this.raw = raw;
    this.uploadedBytes = uploadedBytes;
  }

  /**
   * This result with the values its task uploaded, as the driver took them (bits with the digests
   * this result names); its {@link #stateBytes} stay the bytes uploaded.
   */
  public CollectiveResult withState(FlatVector params, FlatVector state, byte[] exchangeState) {
    return new CollectiveResult(
        rank,
        params,
        state,
        stateFrom,
        stateTo,
        lossSum,
        examples,
        correct,
        steps,
        bytesSent,
        collectiveNanos,
        computeNanos,
        codecNanos,
        progressNanos,
        progressSenderCpuNanos,
        exchangeState,
        startHits,
        startBuilt,
        startMisses,
        startBytesFetched,
        computePrecision,
        timeline,
        attempt,
        paramsDigest,
        stateDigest,
        exchangeDigest,
        raw,
        uploadedBytes);
  }

  /**
   * Whether the task uploaded its end state to the driver's server instead of returning it here.
   */
  public boolean raw() {
    return raw;
  }

  /** The Spark stage attempt whose task made this result. */
  public int attempt() {
    return attempt;
  }

  /** SHA-256 of the end parameters (rank 0), or null. */
  public String paramsDigest() {
    return paramsDigest;
  }

  /** SHA-256 of the optimiser state this result returns or uploaded, or null. */
  public String stateDigest() {
    return stateDigest;
  }

  /** SHA-256 of the exchange state, or null. */
  public String exchangeDigest() {
    return exchangeDigest;
  }

  /** Where this task's time went between its launch and its result (see {@link RoundTimeline}). */
  public RoundTimeline timeline() {
    return timeline;
  }

  /**
   * The precision this rank's products computed in ({@code float32}, {@code float64} or {@code
   * bf16}): its own JVM's verdict, which on a cluster is the executor's, not the driver's.
   */
  public String computePrecision() {
    return computePrecision;
  }

  public int rank() {
    return rank;
  }

  /** The final parameters, or null on ranks other than 0. */
  public FlatVector params() {
    return params;
  }

  /** Optimiser state for parameters {@code [stateFrom, stateTo)}, or null. */
  public FlatVector state() {
    return state;
  }

  public int stateFrom() {
    return stateFrom;
  }

  public int stateTo() {
    return stateTo;
  }

  public double lossSum() {
    return lossSum;
  }

  public long examples() {
    return examples;
  }

  public long correct() {
    return correct;
  }

  public int steps() {
    return steps;
  }

  public long bytesSent() {
    return bytesSent;
  }

  public long collectiveNanos() {
    return collectiveNanos;
  }

  public long computeNanos() {
    return computeNanos;
  }

  /** Time in the gradient exchange outside the ring: compressing, decompressing, rounding. */
  public long codecNanos() {
    return codecNanos;
  }

  /**
   * Time the training thread spent on progress reporting: deciding at every step whether to report
   * and, every {@code logEvery} steps, queueing a frame (measured around the whole call, so it
   * includes its own clock reads); 0 when progress is off.
   */
  public long progressNanos() {
    return progressNanos;
  }

  /**
   * CPU time of this rank's progress sender thread (signing and writing frames to the driver) up to
   * its last frame before the round's result was made; 0 when progress is off.
   */
  public long progressSenderCpuNanos() {
    return progressSenderCpuNanos;
  }

  /**
   * This rank's exchange state after the round ({@code CompressionState.toBytes()}: its
   * error-feedback residual, PowerSGD's warm start), or null when the exchange keeps none.
   */
  public byte[] exchangeState() {
    return exchangeState;
  }

  /**
   * Values of the round's start (parameters, optimiser state, exchange state) its executor held.
   */
  public int startHits() {
    return startHits;
  }

  /**
   * Values of the round's start the task built itself with the committed bits (a fresh network's
   * parameters, a fresh optimiser's zeros).
   */
  public int startBuilt() {
    return startBuilt;
  }

  /** Values of the round's start it had to fetch from the driver. */
  public int startMisses() {
    return startMisses;
  }

  /** Bytes of the round's start fetched from the driver (its broadcasts). */
  public long startBytesFetched() {
    return startBytesFetched;
  }

  /**
   * Bytes of state this result returns (or its task uploaded): parameters, optimiser state,
   * exchange state.
   */
  public long stateBytes() {
    if (raw) {
      return uploadedBytes;
    }
    return (params == null ? 0 : 4L * params.length())
        + (state == null ? 0 : 4L * state.length())
        + (exchangeState == null ? 0 : exchangeState.length);
  }
}
