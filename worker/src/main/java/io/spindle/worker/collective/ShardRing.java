package io.spindle.worker.collective;

import io.spindle.config.WireFormat;
import io.spindle.data.ShardAssignment;

/**
 * The reduce-scatter of a ring of L logical shards, run by M &lt; L workers: worker {@code w} plays
 * the consecutive ring members (shards) {@code [f, e)} that {@link ShardAssignment} gives it, so a
 * round with fewer workers adds the shards' gradients in exactly the order a ring of L workers
 * would, bit for bit: a change of the worker count changes where the additions run, never their
 * order.
 *
 * <p>Protocol, the L-member ring's ({@link TcpRing}) on L chunks ({@code TcpRing.bounds(n, L)}),
 * phases k = 0..L-2: member v sends its partial sum of chunk (v-k-1) mod L to member v+1, which
 * adds it to its own values of that chunk. Member v+1 is on the same worker for v+1 in (f, e): the
 * worker adds in memory (through the wire format's rounding, as the wire would); from the worker's
 * last member e-1 to the next worker's first, the partial travels over the worker's TCP ring
 * ({@link TcpRing#shift}: one chunk to the right, one from the left, per phase). Afterwards member
 * v holds the sum of chunk v over all shards, in {@code shards[v - f]}. Each worker sends (L-1)/L
 * of the vector, against (M-1)/M in a ring of M.
 */
public final class ShardRing {
  /** The op code of this ring's blocks (peers check it): a reduce-scatter over shards. */
  static final int OP = 3;

  private final TcpRing ring;
  private final ShardAssignment assignment;
  private final WireFormat wire;
  private final int first;
  private final int end;
  private float[] scratch;

  public ShardRing(TcpRing ring, ShardAssignment assignment, WireFormat wire) {
    if (ring.size() != assignment.workers()) {
      throw new CollectiveException(
          "a ring of "
              + ring.size()
              + " peers cannot play "
              + assignment.shards()
              + " shards assigned to "
              + assignment.workers()
              + " workers");
    }
    this.ring = ring;
    this.assignment = assignment;
    this.wire = wire;
    this.first = assignment.first(ring.rank());
    this.end = assignment.end(ring.rank());
  }

  /** Chunk boundaries of a vector of {@code n} values: one chunk per shard. */
  public int[] chunks(int n) {
    return TcpRing.bounds(n, assignment.shards());
  }

  /**
   * Reduce-scatter of {@code shards} (this worker's shards' vectors, in shard order, each the whole
   * vector) over all L shards: afterwards {@code shards[i]}'s chunk {@code first + i} holds that
   * chunk's sum over all shards, added in the L-member ring's order.
   */
  public void reduceScatter(float[][] shards, long step) {
    int l = assignment.shards();
    if (shards.length != end - first) {
      throw new CollectiveException(
          "rank " + ring.rank() + ": expected " + (end - first) + " shards, got " + shards.length);
    }
    int n = shards[0].length;
    int[] bounds = chunks(n);
    if (scratch == null || scratch.length != n) {
      scratch = new float[n];
    }
    int members = end - first;
    for (int k = 0; k < l - 1; k++) {
      // from the last member of the worker on the left (or, alone in the ring, from this
      // worker's own last member) into the first member
      int into = mod(first - k - 2, l);
      if (ring.size() == 1) {
        addOnWire(shards[members - 1], shards[0], bounds[into], bounds[into + 1]);
      } else {
        int out = mod(end - 1 - k - 1, l);
        System.arraycopy(
            shards[members - 1], bounds[out], scratch, bounds[out], bounds[out + 1] - bounds[out]);
        System.arraycopy(
            shards[0], bounds[into], scratch, bounds[into], bounds[into + 1] - bounds[into]);
        ring.shift(scratch, bounds, step, OP, k, out, into, true);
        System.arraycopy(
            scratch, bounds[into], shards[0], bounds[into], bounds[into + 1] - bounds[into]);
      }
      // between this worker's members: member v adds member v-1's partial of chunk v-k-2, which
      // no other hop of this phase writes
      for (int v = first + 1; v < end; v++) {
        int c = mod(v - k - 2, l);
        addOnWire(shards[v - 1 - first], shards[v - first], bounds[c], bounds[c + 1]);
      }
    }
  }

  /**
   * Copies into {@code out} the chunks this worker's members own after {@link #reduceScatter}:
   * chunk {@code v} from {@code shards[v - first]}, for v in {@code [first, end)}; that is, the
   * range {@code [chunks(n)[first], chunks(n)[end])}.
   */
  public void gather(float[][] shards, float[] out) {
    int[] bounds = chunks(out.length);
    for (int v = first; v < end; v++) {
      System.arraycopy(shards[v - first], bounds[v], out, bounds[v], bounds[v + 1] - bounds[v]);
    }
  }

  /**
   * The bounds of the workers' ranges under {@code assignment} ({@code M + 1} entries): worker
   * {@code w} owns the chunks of its shards, for an all-gather over the TCP ring.
   */
  public static int[] workerBounds(ShardAssignment assignment, int n) {
    int[] chunk = TcpRing.bounds(n, assignment.shards());
    int[] out = new int[assignment.workers() + 1];
    for (int w = 0; w <= assignment.workers(); w++) {
      out[w] = chunk[w == assignment.workers() ? assignment.shards() : assignment.first(w)];
    }
    return out;
  }

  /** {@code into[from, to) += from's values}, rounded as the wire format sends them. */
  private void addOnWire(float[] source, float[] into, int from, int to) {
    if (wire == WireFormat.FP32) {
      for (int i = from; i < to; i++) {
        into[i] += source[i];
      }
    } else {
      for (int i = from; i < to; i++) {
        into[i] += WireFormat.fromBf16(WireFormat.toBf16(source[i]));
      }
    }
  }

  private static int mod(int x, int m) {
    return ((x % m) + m) % m;
  }
}
