package io.spindle.worker.collective;

import io.spindle.tensor.FlatVector;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.broadcast.Broadcast;

/**
 * What the tasks of one collective round start from: the committed parameters, each rank's
 * optimiser state (the whole state when replicated, its ZeRO-1 chunk when sharded) and each rank's
 * exchange state, each named by the SHA-256 of its committed bits and each also in a Spark
 * broadcast. A task takes a value from its executor's {@link StickyState} when the executor holds
 * those exact bits, and reads the broadcast (which fetches it from the driver) only when it does
 * not. Shipped in the task closure: only the digests and the broadcasts' handles travel with it.
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
      List<Broadcast<byte[]>> exchange) {
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
  FlatVector params(Traffic t, java.util.function.Supplier<FlatVector> own) {
    FlatVector v = (FlatVector) lookup(StickyState.Kind.PARAMS, paramsDigest, t);
    if (v == null) {
      v = built(own.get(), paramsDigest, t);
    }
    if (v == null) {
      v = params.value();
      t.bytesFetched += 4L * v.length();
    }
    return v;
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
      v = states.get(rank).value();
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
      v = exchange.get(rank).value();
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

  /** Keeps a task's state at the end of its round attempt (ending at global step {@code end}). */
  void keep(FlatVector params, FlatVector state, byte[] exchangeState, long end) {
    if (!sticky) {
      return;
    }
    StickyState.keep(
        run,
        StickyState.Kind.PARAMS,
        StickyState.digest(params),
        params,
        end,
        4L * params.length());
    StickyState.keep(
        run,
        StickyState.Kind.OPTIMIZER,
        StickyState.digest(state),
        state,
        end,
        4L * state.length());
    if (exchangeState != null) {
      StickyState.keep(
          run,
          StickyState.Kind.EXCHANGE,
          StickyState.digest(exchangeState),
          exchangeState.clone(),
          end,
          exchangeState.length);
    }
  }
}
