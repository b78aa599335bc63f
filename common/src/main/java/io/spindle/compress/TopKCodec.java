package io.spindle.compress;

import java.util.Arrays;

/**
 * Top-k sparsification with error feedback (Stich, Cordonnier and Jaggi, "Sparsified SGD with
 * Memory", NeurIPS 2018; the same selection as Deep Gradient Compression, Lin et al., ICLR 2018,
 * without its momentum correction), for one worker of N. Each step the worker sends the k entries
 * of largest magnitude of its gradient plus residual, as (index, value) pairs, and keeps the rest:
 *
 * <pre>
 *   M_w  = G_w + E_w                 error feedback
 *   S_w  = the k indices of largest |M_w| (ties: the lower index), k = ceil(fraction * n)
 *   send (i, M_w[i]) for i in S_w, ascending by index
 *   E_w <- M_w with the entries of S_w set to 0
 *   out  = sum_w of the pairs        all-gather of every worker's k pairs, summed in rank order
 * </pre>
 *
 * So {@code sum_w E_w + out} equals {@code sum_w M_w} (up to float rounding). On the wire a pair is
 * two floats, the index stored as the float with the index's bits ({@link Float#intBitsToFloat};
 * indices below 2^31 are never NaN, so the bits survive an fp32 copy), then the value: {@link
 * #wireLength()} = 2k floats per worker, the same for every worker, so an all-gather's chunk bounds
 * are known in advance. {@link #accumulate} adds one worker's pairs into a range of the output (a
 * ZeRO-1 shard needs only its own); calling it for ranks 0..N-1 in order gives every worker the
 * same sums.
 *
 * <p>The selection is exact (a radix select of the k-th largest magnitude on the floats' bits, then
 * one scan), not DGC's sampled threshold. Not thread-safe; {@link #state} and {@link #restore}
 * between steps.
 */
public final class TopKCodec {
  public static final String NAME = "topk";

  private final GradientLayout layout;
  private final double fraction;
  private final int k;
  private final float[] residual;

  /** Magnitudes as int bits: for floats >= 0 their order is the order of the values. */
  private final int[] keys;

  private final int[] histogram = new int[1 << 12];
  private long step;

  /**
   * @param layout the flat gradient's tensors (only its length matters to top-k; the fingerprint
   *     guards restored state)
   * @param fraction k / n, in (0, 1]
   */
  public TopKCodec(GradientLayout layout, double fraction) {
    if (!(fraction > 0 && fraction <= 1)) {
      throw new IllegalArgumentException("top-k fraction must be in (0, 1], got " + fraction);
    }
    this.layout = layout;
    this.fraction = fraction;
    int n = layout.length();
    // ceil, but 1e-5 * 3,000,000 is 30.000000000000004 in double: round off that noise first
    this.k = n == 0 ? 0 : (int) Math.min(n, Math.max(1, Math.ceil(fraction * n * (1 - 1e-12))));
    this.residual = new float[n];
    this.keys = new int[n];
  }

  public double fraction() {
    return fraction;
  }

  /** Entries sent per worker and step. */
  public int k() {
    return k;
  }

  /** Floats one worker sends per step: k (index, value) pairs. */
  public int wireLength() {
    return 2 * k;
  }

  public long step() {
    return step;
  }

  /**
   * Adds the residual to {@code gradient[offset, offset + n)} (not modified), writes the k pairs of
   * largest magnitude into {@code wire[wireOffset, wireOffset + 2k)} and keeps the rest as the
   * residual.
   */
  public void compress(float[] gradient, int offset, float[] wire, int wireOffset) {
    if (wire.length - wireOffset < wireLength()) {
      throw new IllegalArgumentException(
          "wire buffer has "
              + (wire.length - wireOffset)
              + " values from offset "
              + wireOffset
              + ", expected at least "
              + wireLength());
    }
    int n = residual.length;
    for (int i = 0; i < n; i++) {
      residual[i] += gradient[offset + i];
      keys[i] = Float.floatToRawIntBits(residual[i]) & 0x7fffffff;
    }
    if (k == 0) {
      step++;
      return;
    }
    int threshold = kthLargestKey(keys, n, k, histogram);
    int above = 0;
    for (int i = 0; i < n; i++) {
      if (keys[i] > threshold) {
        above++;
      }
    }
    int ties = k - above; // entries equal to the threshold still to take, lowest index first
    int w = wireOffset;
    for (int i = 0; i < n; i++) {
      int key = keys[i];
      if (key > threshold || (key == threshold && ties-- > 0)) {
        wire[w++] = Float.intBitsToFloat(i);
        wire[w++] = residual[i];
        residual[i] = 0f;
      }
    }
    if (w != wireOffset + wireLength()) {
      throw new IllegalStateException(
          "top-k selected " + (w - wireOffset) / 2 + " entries, expected " + k + " (NaN in M?)");
    }
    step++;
  }

  /**
   * Adds one worker's {@code k} pairs at {@code wire[wireOffset...]} whose index lies in {@code
   * [from, to)} to {@code out[outOffset + index - from]}.
   */
  public static void accumulate(
      float[] wire, int wireOffset, int k, float[] out, int outOffset, int from, int to) {
    // indices ascend: find the first pair at or after 'from' by bisection
    int lo = 0;
    int hi = k;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (Float.floatToRawIntBits(wire[wireOffset + 2 * mid]) < from) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    for (int p = lo; p < k; p++) {
      int index = Float.floatToRawIntBits(wire[wireOffset + 2 * p]);
      if (index >= to) {
        break;
      }
      out[outOffset + index - from] += wire[wireOffset + 2 * p + 1];
    }
  }

  /** The state between steps: the residual and the step count (top-k has no factors). */
  public CompressionState state() {
    return new CompressionState(
        NAME, layout.fingerprint(), 0, residual, step, new int[0], new int[0], new float[0]);
  }

  /** Continues from a saved state of a codec over the same layout. */
  public void restore(CompressionState s) {
    if (!s.codec().equals(NAME)
        || s.layoutFingerprint() != layout.fingerprint()
        || s.from() != 0
        || s.to() != residual.length
        || s.factors().length != 0) {
      throw new IllegalArgumentException(
          "cannot restore "
              + s
              + " (layout "
              + Long.toHexString(s.layoutFingerprint())
              + ") into a "
              + NAME
              + " codec of "
              + residual.length
              + " values (layout "
              + Long.toHexString(layout.fingerprint())
              + ")");
    }
    System.arraycopy(s.residual(), 0, residual, 0, residual.length);
    step = s.step();
  }

  /**
   * The k-th largest (1-based) of {@code keys[0, n)}, non-negative ints: a radix select over the
   * bits 30..20, 19..8 and 7..0, one counting pass each, restricted to the keys that share the bits
   * found so far. Exact and deterministic; {@code keys} is not modified.
   */
  static int kthLargestKey(int[] keys, int n, int k, int[] histogram) {
    int prefix = 0; // the bits of the answer found so far
    int prefixMask = 0; // which bits those are
    int remaining = k; // rank of the answer among the keys matching the prefix
    int[][] digits = {{20, 11}, {8, 12}, {0, 8}}; // {shift, width}
    for (int[] d : digits) {
      int shift = d[0];
      int buckets = 1 << d[1];
      Arrays.fill(histogram, 0, buckets, 0);
      for (int i = 0; i < n; i++) {
        int key = keys[i];
        if ((key & prefixMask) == prefix) {
          histogram[(key >>> shift) & (buckets - 1)]++;
        }
      }
      int b = buckets - 1;
      while (histogram[b] < remaining) {
        remaining -= histogram[b];
        b--;
      }
      prefix |= b << shift;
      prefixMask |= (buckets - 1) << shift;
    }
    return prefix;
  }

  /** The same for floats: the k-th largest of {@code a[0, n)} (which must be >= 0). */
  static float kthLargest(float[] a, int n, int k) {
    int[] keys = new int[n];
    for (int i = 0; i < n; i++) {
      keys[i] = Float.floatToRawIntBits(a[i]) & 0x7fffffff;
    }
    return Float.intBitsToFloat(kthLargestKey(keys, n, k, new int[1 << 12]));
  }
}
