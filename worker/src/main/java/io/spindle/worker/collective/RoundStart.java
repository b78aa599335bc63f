package io.spindle.worker.collective;

import io.spindle.tensor.FlatVector;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.broadcast.Broadcast;

/**
 * What the tasks of one collective round start from: the committed parameters, each rank's
 * optimiser state (the whole state when replicated, its ZeRO-1 chunk when sharded) and each rank's
 * exchange state, each named by the SHA-256 of its committed bits. A task takes a value from its
 * executor's {@link StickyState} when the executor holds those exact bits, and fetches it from the
 * driver only when it does not: by its digest from the round's {@link Rendezvous} server ({@link
 * Driver}: raw bits, nothing made before a task asks), or, without that server, by reading the
 * value's Spark broadcast (made, serialised and compressed by the driver every round). Shipped in
 * the task closure: only the digests and the server's address or the broadcasts' handles travel
 * with it.
 */
public final class RoundStart implements Serializable {
  private static final long serialVersionUID = 1L;
  private final String run;
  private final long iteration;
  private final int numParams;
  private final boolean sticky;
  private final String paramsDigest;
  private final Broadcast<FlatVector> params;
  private final int[] stateFrom;
  private final int[] stateTo;
  private final int[] stateLengths;
  private final String[] stateDigests;
  private final List<Broadcast<FlatVector>> states;
  private final String[] exchangeDigests;
  private final List<Broadcast<byte[]>> exchange;
  private final Driver driver;

  /**
   * Where a task fetches a start value it misses: the round's {@link Rendezvous} server.
   *
   * @param service its host:port
   * @param round the round's id, under which the driver offers the values
   * @param secret the round's secret, which every request proves
   * @param timeoutMillis connect and read timeout
   */
  public record Driver(String service, long round, byte[] secret, int timeoutMillis)
      implements Serializable {}

  /**
   * @param run the run whose executor entries may serve this round ({@link StickyState}'s key)
   * @param iteration the round's first global step (the committed round's end: its entries' tag)
   * @param numParams the model's parameter count
   * @param sticky false: neither look values up nor keep them (every value comes from the driver)
   * @param paramsDigest SHA-256 of the committed parameters
   * @param params the committed parameters
   * @param stateFrom for each rank, the first parameter its optimiser state covers
   * @param stateTo for each rank, the end of that range
   * @param stateLengths for each rank, the length of its optimiser state
   * @param stateDigests for each rank, SHA-256 of its committed optimiser state (range)
   * @param states for each rank, that state
   * @param exchangeDigests for each rank, SHA-256 of its committed exchange state; null: each
   *     exchange starts fresh
   * @param exchange for each rank, that state ({@code CompressionState.toBytes()}); null with the
   *     digests
   * @param driver where a missed value is fetched by its digest; null: from the broadcasts (which
   *     then must be given; with a driver they are null)
   */
  public RoundStart(
      String run,
      long iteration,
      int numParams,
      boolean sticky,
      String paramsDigest,
      Broadcast<FlatVector> params,
      int[] stateFrom,
      int[] stateTo,
      int[] stateLengths,
      String[] stateDigests,
      List<Broadcast<FlatVector>> states,
      String[] exchangeDigests,
      List<Broadcast<byte[]>> exchange,
      Driver driver) {
    if (driver == null && (params == null || states == null)) {
      throw new IllegalArgumentException(
          "a round's start needs the driver's server or the broadcasts to fetch from");
    }
    this.driver = driver;
    this.run = run;
    this.iteration = iteration;
    this.numParams = numParams;
    this.sticky = sticky;
    this.paramsDigest = paramsDigest;
    this.params = params;
    this.stateFrom = stateFrom;
    this.stateTo = stateTo;
    this.stateLengths = stateLengths;
    this.stateDigests = stateDigests;
    this.states = states;
    this.exchangeDigests = exchangeDigests;
    this.exchange = exchange;
  }

  public int numParams() {
    return numParams;
  }

  public int workers() {
    return stateDigests.length;
  }

  /** Where each value of a task came from: its executor's cache or the driver. */
  static final class Traffic {
    int hits;
    int built;
    int misses;
    long bytesFetched;
  }

  /** Drops the run's executor entries that cannot serve this round. */
  void retain() {
    if (sticky) {
      StickyState.retain(run, iteration);
    }
  }

  /**
   * The committed parameters: the executor's kept copy, else {@code own} (the task's network as it
   * is, e.g. freshly initialised from the model's seed, as the driver's) when its bits are the
   * committed ones, else the driver's.
   */
  FlatVector params(int rank, Traffic t, java.util.function.Supplier<FlatVector> own) {
    FlatVector v = (FlatVector) lookup(StickyState.Kind.PARAMS, paramsDigest, t);
    if (v == null) {
      v = built(own.get(), paramsDigest, t);
    }
    if (v == null) {
      v =
          driver != null
              ? (FlatVector) fetch(rank, StickyState.Kind.PARAMS, paramsDigest)
              : params.value();
      t.bytesFetched += 4L * v.length();
    }
    return v;
  }

  /** The value with {@code digest} from the driver's server. */
  private Object fetch(int rank, StickyState.Kind kind, String digest) {
    return StateService.fetch(
        driver.service(),
        driver.round(),
        rank,
        kind,
        digest,
        driver.secret(),
        driver.timeoutMillis());
  }

  /** Whether missed values come from the round's server (else from Spark broadcasts). */
  public boolean raw() {
    return driver != null;
  }

  /** Rank {@code rank}'s optimiser state for parameters {@code [from, to)}. */
  FlatVector state(int rank, int from, int to, Traffic t) {
    if (stateFrom[rank] != from || stateTo[rank] != to) {
      throw new CollectiveException(
          "rank "
              + rank
              + " updates parameters ["
              + from
              + ", "
              + to
              + "), but the driver cut its optimiser state for ["
              + stateFrom[rank]
              + ", "
              + stateTo[rank]
              + ")");
    }
    FlatVector v = (FlatVector) lookup(StickyState.Kind.OPTIMIZER, stateDigests[rank], t);
    if (v == null) {
      // a fresh optimiser's state is zeros: no need to ship them
      v = built(FlatVector.of(new float[stateLengths[rank]]), stateDigests[rank], t);
    }
    if (v == null) {
      v =
          driver != null
              ? (FlatVector) fetch(rank, StickyState.Kind.OPTIMIZER, stateDigests[rank])
              : states.get(rank).value();
      t.bytesFetched += 4L * v.length();
    }
    return v;
  }

  /** Rank {@code rank}'s committed exchange state, or null to start fresh. */
  byte[] exchange(int rank, int size, Traffic t) {
    if (exchangeDigests == null) {
      return null;
    }
    if (exchangeDigests.length != size) {
      throw new CollectiveException(
          "rank "
              + rank
              + ": the driver shipped exchange states for "
              + exchangeDigests.length
              + " workers to a ring of "
              + size);
    }
    byte[] v = (byte[]) lookup(StickyState.Kind.EXCHANGE, exchangeDigests[rank], t);
    if (v == null) {
      t.misses++;
      v =
          driver != null
              ? (byte[]) fetch(rank, StickyState.Kind.EXCHANGE, exchangeDigests[rank])
              : exchange.get(rank).value();
      t.bytesFetched += v.length;
    }
    return v;
  }

  private Object lookup(StickyState.Kind kind, String digest, Traffic t) {
    Object v = sticky ? StickyState.lookup(run, kind, digest) : null;
    if (v != null) {
      t.hits++;
    }
    return v;
  }

  /**
   * {@code candidate} if its bits are the committed ones (counted as built), else null (a miss).
   */
  private FlatVector built(FlatVector candidate, String digest, Traffic t) {
    if (sticky && candidate != null && StickyState.digest(candidate).equals(digest)) {
      t.built++;
      return candidate;
    }
    t.misses++;
    return null;
  }

  /** Whether a task keeps its end state in its executor. */
  boolean sticky() {
    return sticky;
  }

  /**
   * Keeps a task's state at the end of its round attempt (ending at global step {@code end}), each
   * value under its digest ({@code exchangeDigest} null with {@code exchangeState}).
   */
  void keep(
      FlatVector params,
      String paramsDigest,
      FlatVector state,
      String stateDigest,
      byte[] exchangeState,
      String exchangeDigest,
      long end) {
    if (!sticky) {
      return;
    }
    StickyState.keep(run, StickyState.Kind.PARAMS, paramsDigest, params, end, 4L * params.length());
    StickyState.keep(run, StickyState.Kind.OPTIMIZER, stateDigest, state, end, 4L * state.length());
    if (exchangeState != null) {
      StickyState.keep(
          run,
          StickyState.Kind.EXCHANGE,
          exchangeDigest,
          exchangeState.clone(),
          end,
          exchangeState.length);
    }
  }
}
