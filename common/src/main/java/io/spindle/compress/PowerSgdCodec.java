package io.spindle.compress;

import io.spindle.compress.GradientLayout.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * PowerSGD gradient compression with error feedback (Vogels, Karimireddy and Jaggi, "PowerSGD:
 * Practical Low-Rank Gradient Compression for Distributed Optimization", NeurIPS 2019; Algorithm 1,
 * one power-iteration step per training step with a warm-started Q, and the error feedback of their
 * Algorithm 2), for one worker of N. Every weight matrix {@code M} ({@code n x m}, see {@link
 * GradientLayout}) is sent as two rank-r factors; vectors (biases, batch-norm parameters) and
 * matrices that rank r would not shrink ({@code r (n + m) >= n m}) are sent as they are.
 *
 * <p>One step, on every worker w, for each compressed matrix (r = min(rank, n, m)):
 *
 * <pre>
 *   M_w  = G_w + E_w                 error feedback: this worker's gradient plus its residual
 *   P_w  = M_w Q                     n x r; Q (m x r) is the same on every worker (warm start)
 *   P    = sum_w P_w                 all-reduce 1 (together with the uncompressed tensors)
 *   P^   = orthonormalise(P)         Gram-Schmidt over the r columns
 *   Q_w  = M_w^T P^                  m x r
 *   E_w <- M_w - P^ Q_w^T            the part of M_w this step does not send
 *   Q    = sum_w Q_w                 all-reduce 2
 *   out  = P^ Q^T = P^ P^T^ sum_w M_w   the same on every worker; Q is kept as the next warm start
 * </pre>
 *
 * So {@code sum_w E_w + out} equals {@code sum_w M_w} (up to float rounding): nothing is lost, only
 * delayed. The residual is the paper's local one ({@code M_w - P^ Q_w^T}); PyTorch's {@code
 * powerSGD_hook} keeps {@code M_w - P^ Q^T / N} instead, which has the same sum over workers. Sums,
 * not means, travel: the engine's gradients are sums over examples, P^ is orthonormal whatever P's
 * scale, and the output is the compressed sum gradient. The initial Q is drawn from N(0, 1) with a
 * generator seeded by (seed, tensor index) and orthonormalised, so every worker starts with the
 * same Q; a column of Q that becomes zero (a zero gradient) is drawn again, seeded by (seed,
 * tensor, step).
 *
 * <p>Factors are stored column by column: P ({@code n x r}) as r runs of n values, Q ({@code m x
 * r}) as r runs of m values, in the buffers and in the saved state. Products run in float with four
 * partial sums (dot products) or as axpy loops; the orthonormalisation runs in double.
 *
 * <p>Call order per step: {@link #compress} (fills all-reduce 1's buffer), {@link #project} (takes
 * its sum, fills all-reduce 2's buffer), {@link #decompress} (takes both sums, writes the output,
 * for a range of the vector if only a shard is needed). {@link #state} and {@link #restore} are
 * allowed between steps only. Not thread-safe.
 */
public final class PowerSgdCodec {
  public static final String NAME = "powersgd";

  private enum Phase {
    IDLE,
    COMPRESSED,
    PROJECTED
  }

  private final GradientLayout layout;
  private final int rank;
  private final long seed;

  /** Per tensor: its rank r if compressed, 0 if sent as it is. */
  private final int[] ranks;

  /** Per tensor: offset in the first buffer (its P block or its raw values). */
  private final int[] firstOffset;

  /** Per tensor: offset of its Q block in the second buffer and in {@link #q} (compressed only). */
  private final int[] secondOffset;

  private final int firstLength;
  private final int secondLength;
  private final float[] residual;
  private final float[] q;
  private final float[] pHat;
  private long step;
  private Phase phase = Phase.IDLE;

  /**
   * @param layout the flat gradient's tensors
   * @param rank r, at least 1
   * @param seed the run's seed; workers must agree on it (it draws the initial Q)
   */
  public PowerSgdCodec(GradientLayout layout, int rank, long seed) {
    if (rank < 1) {
      throw new IllegalArgumentException("PowerSGD rank must be >= 1, got " + rank);
    }
    this.layout = layout;
    this.rank = rank;
    this.seed = seed;
    List<Tensor> tensors = layout.tensors();
    ranks = new int[tensors.size()];
    firstOffset = new int[tensors.size()];
    secondOffset = new int[tensors.size()];
    int first = 0;
    int second = 0;
    for (int t = 0; t < tensors.size(); t++) {
      Tensor x = tensors.get(t);
      int r = Math.min(rank, Math.min(x.rows(), x.cols()));
      boolean compress = x.isMatrix() && (long) r * (x.rows() + x.cols()) < (long) x.length();
      ranks[t] = compress ? r : 0;
      firstOffset[t] = first;
      secondOffset[t] = second;
      first += compress ? x.rows() * r : x.length();
      second += compress ? x.cols() * r : 0;
    }
    firstLength = first;
    secondLength = second;
    residual = new float[layout.length()];
    q = new float[second];
    pHat = new float[first];
    for (int t = 0; t < tensors.size(); t++) {
      if (ranks[t] > 0) {
        Tensor x = tensors.get(t);
        SplittableRandom rng = new SplittableRandom(mix(seed, t, -1));
        for (int i = 0; i < x.cols() * ranks[t]; i++) {
          q[secondOffset[t] + i] = (float) rng.nextGaussian();
        }
        orthonormalise(q, secondOffset[t], x.cols(), ranks[t]);
      }
    }
  }

  public GradientLayout layout() {
    return layout;
  }

  public int rank() {
    return rank;
  }

  /** Values of all-reduce 1: the P factors and every uncompressed tensor. */
  public int firstLength() {
    return firstLength;
  }

  /** Values of all-reduce 2: the Q factors. */
  public int secondLength() {
    return secondLength;
  }

  /** Whether tensor {@code t} of the layout is approximated (false: sent as it is). */
  public boolean compresses(int t) {
    return ranks[t] > 0;
  }

  /** Steps completed since the start (or since the restored state's start). */
  public long step() {
    return step;
  }

  /**
   * Step part 1: adds the residual to {@code gradient[offset, offset + n)} (not modified) and
   * writes all-reduce 1's values (P_w of each compressed matrix, the raw values of the others) into
   * {@code first[0, firstLength())}.
   */
  public void compress(float[] gradient, int offset, float[] first) {
    expect(Phase.IDLE, "compress");
    check(first, firstLength, "first buffer");
    List<Tensor> tensors = layout.tensors();
    for (int i = 0; i < residual.length; i++) {
      residual[i] += gradient[offset + i]; // the residual buffer holds M until project()
    }
    for (int t = 0; t < tensors.size(); t++) {
      Tensor x = tensors.get(t);
      int r = ranks[t];
      if (r == 0) {
        System.arraycopy(residual, x.offset(), first, firstOffset[t], x.length());
        continue;
      }
      reseedZeroColumns(t, x);
      int n = x.rows();
      int m = x.cols();
      for (int k = 0; k < r; k++) {
        int qk = secondOffset[t] + k * m;
        int pk = firstOffset[t] + k * n;
        for (int row = 0; row < n; row++) {
          first[pk + row] = dot(residual, x.offset() + row * m, q, qk, m);
        }
      }
    }
    phase = Phase.COMPRESSED;
  }

  /**
   * Step part 2, after all-reduce 1: orthonormalises each summed P (kept for part 3), writes this
   * worker's Q_w = M_w^T P^ into {@code second[0, secondLength())} and keeps M_w - P^ Q_w^T as its
   * residual. {@code firstSum} is not modified.
   */
  public void project(float[] firstSum, float[] second) {
    expect(Phase.COMPRESSED, "project");
    check(firstSum, firstLength, "summed first buffer");
    check(second, secondLength, "second buffer");
    List<Tensor> tensors = layout.tensors();
    for (int t = 0; t < tensors.size(); t++) {
      Tensor x = tensors.get(t);
      int r = ranks[t];
      if (r == 0) {
        // sent exactly: nothing left over
        Arrays.fill(residual, x.offset(), x.offset() + x.length(), 0f);
        continue;
      }
      int n = x.rows();
      int m = x.cols();
      int po = firstOffset[t];
      int so = secondOffset[t];
      System.arraycopy(firstSum, po, pHat, po, n * r);
      orthonormalise(pHat, po, n, r);
      Arrays.fill(second, so, so + m * r, 0f);
      for (int row = 0; row < n; row++) {
        int mo = x.offset() + row * m;
        for (int k = 0; k < r; k++) {
          axpy(pHat[po + k * n + row], residual, mo, second, so + k * m, m);
        }
      }
      for (int row = 0; row < n; row++) {
        int mo = x.offset() + row * m;
        for (int k = 0; k < r; k++) {
          axpy(-pHat[po + k * n + row], second, so + k * m, residual, mo, m);
        }
      }
    }
    phase = Phase.PROJECTED;
  }

  /**
   * Step part 3, after all-reduce 2: writes the decompressed sum gradient of flat indices {@code
   * [from, to)} into {@code out[outOffset, outOffset + to - from)} and keeps the summed Q as the
   * next warm start. The same on every worker, since it depends only on the two sums.
   */
  public void decompress(
      float[] firstSum, float[] secondSum, float[] out, int outOffset, int from, int to) {
    expect(Phase.PROJECTED, "decompress");
    check(firstSum, firstLength, "summed first buffer");
    check(secondSum, secondLength, "summed second buffer");
    if (from < 0 || to > layout.length() || from > to) {
      throw new IllegalArgumentException(
          "range [" + from + ", " + to + ") is not within [0, " + layout.length() + ")");
    }
    List<Tensor> tensors = layout.tensors();
    for (int t = 0; t < tensors.size(); t++) {
      Tensor x = tensors.get(t);
      int lo = Math.max(from, x.offset());
      int hi = Math.min(to, x.offset() + x.length());
      if (lo >= hi) {
        continue;
      }
      int r = ranks[t];
      if (r == 0) {
        System.arraycopy(
            firstSum, firstOffset[t] + lo - x.offset(), out, outOffset + lo - from, hi - lo);
        continue;
      }
      int n = x.rows();
      int m = x.cols();
      int po = firstOffset[t];
      int so = secondOffset[t];
      // rows [firstRow, lastRow] meet [lo, hi); of each, columns [c0, c1)
      int firstRow = (lo - x.offset()) / m;
      int lastRow = (hi - 1 - x.offset()) / m;
      for (int row = firstRow; row <= lastRow; row++) {
        int rowStart = x.offset() + row * m;
        int c0 = Math.max(lo, rowStart) - rowStart;
        int c1 = Math.min(hi, rowStart + m) - rowStart;
        int o = outOffset + rowStart + c0 - from;
        Arrays.fill(out, o, o + c1 - c0, 0f);
        for (int k = 0; k < r; k++) {
          axpy(pHat[po + k * n + row], secondSum, so + k * m + c0, out, o, c1 - c0);
        }
      }
    }
    System.arraycopy(secondSum, 0, q, 0, secondLength);
    step++;
    phase = Phase.IDLE;
  }

  /** {@code sum_i a[ao + i] * b[bo + i]} over {@code len} values, four partial sums. */
  private static float dot(float[] a, int ao, float[] b, int bo, int len) {
    float s0 = 0;
    float s1 = 0;
    float s2 = 0;
    float s3 = 0;
    int i = 0;
    for (; i + 3 < len; i += 4) {
      s0 += a[ao + i] * b[bo + i];
      s1 += a[ao + i + 1] * b[bo + i + 1];
      s2 += a[ao + i + 2] * b[bo + i + 2];
      s3 += a[ao + i + 3] * b[bo + i + 3];
    }
    for (; i < len; i++) {
      s0 += a[ao + i] * b[bo + i];
    }
    return (s0 + s1) + (s2 + s3);
  }

  /** {@code y[yo + i] += alpha * x[xo + i]} over {@code len} values. */
  private static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int len) {
    for (int i = 0; i < len; i++) {
      y[yo + i] += alpha * x[xo + i];
    }
  }

  /** The state between steps: residual, step count and the warm-start Q of every matrix. */
  public CompressionState state() {
    expect(Phase.IDLE, "state");
    List<Integer> owners = new ArrayList<>();
    List<Integer> lengths = new ArrayList<>();
    for (int t = 0; t < ranks.length; t++) {
      if (ranks[t] > 0) {
        Tensor x = layout.tensors().get(t);
        owners.add(x.offset());
        lengths.add(x.cols() * ranks[t]);
      }
    }
    return new CompressionState(
        NAME,
        layout.fingerprint(),
        0,
        residual,
        step,
        owners.stream().mapToInt(i -> i).toArray(),
        lengths.stream().mapToInt(i -> i).toArray(),
        q);
  }

  /** Continues from a saved state of a codec with the same layout and rank. */
  public void restore(CompressionState s) {
    expect(Phase.IDLE, "restore");
    CompressionState mine = state();
    if (!s.codec().equals(NAME)
        || s.layoutFingerprint() != mine.layoutFingerprint()
        || s.from() != 0
        || s.to() != residual.length
        || !Arrays.equals(s.factorOwners(), mine.factorOwners())
        || !Arrays.equals(s.factorLengths(), mine.factorLengths())) {
      throw new IllegalArgumentException(
          "cannot restore "
              + s
              + " (layout "
              + Long.toHexString(s.layoutFingerprint())
              + ") into a "
              + NAME
              + " codec of rank "
              + rank
              + " expecting "
              + mine
              + " (layout "
              + Long.toHexString(mine.layoutFingerprint())
              + ")");
    }
    System.arraycopy(s.residual(), 0, residual, 0, residual.length);
    System.arraycopy(s.factors(), 0, q, 0, q.length);
    step = s.step();
  }

  /** A column of Q that is all zero would stay zero forever: draw it again. */
  private void reseedZeroColumns(int t, Tensor x) {
    int r = ranks[t];
    int m = x.cols();
    for (int k = 0; k < r; k++) {
      int qk = secondOffset[t] + k * m;
      boolean zero = true;
      for (int c = 0; c < m && zero; c++) {
        zero = q[qk + c] == 0f;
      }
      if (zero) {
        SplittableRandom rng = new SplittableRandom(mix(seed, t, step * rank + k));
        for (int c = 0; c < m; c++) {
          q[qk + c] = (float) rng.nextGaussian();
        }
      }
    }
  }

  /**
   * Modified Gram-Schmidt, in double, on the r columns of {@code rows} values each stored one after
   * the other at {@code a[offset]}: afterwards the columns are orthonormal, or zero where a column
   * lay in the span of the ones before it (or was zero).
   */
  static void orthonormalise(float[] a, int offset, int rows, int r) {
    double[][] done = new double[r][rows];
    for (int k = 0; k < r; k++) {
      double[] col = done[k];
      int ck = offset + k * rows;
      double before = 0;
      for (int i = 0; i < rows; i++) {
        col[i] = a[ck + i];
        before += col[i] * col[i];
      }
      for (int j = 0; j < k; j++) {
        double dot = 0;
        for (int i = 0; i < rows; i++) {
          dot += col[i] * done[j][i];
        }
        for (int i = 0; i < rows; i++) {
          col[i] -= dot * done[j][i];
        }
      }
      double norm = 0;
      for (int i = 0; i < rows; i++) {
        norm += col[i] * col[i];
      }
      norm = Math.sqrt(norm);
      // what is left after removing the earlier columns must be more than float rounding noise
      boolean independent = norm > 1e-5 * Math.sqrt(before) && Double.isFinite(norm);
      for (int i = 0; i < rows; i++) {
        col[i] = independent ? col[i] / norm : 0;
        a[ck + i] = (float) col[i];
      }
    }
  }

  private static long mix(long seed, int tensor, long salt) {
    long h = seed * 0x9E3779B97F4A7C15L + tensor;
    h = (h ^ (h >>> 31)) * 0xBF58476D1CE4E5B9L + salt;
    return h ^ (h >>> 29);
  }

  private void expect(Phase expected, String call) {
    if (phase != expected) {
      throw new IllegalStateException(
          call
              + "() called in phase "
              + phase
              + ", expected "
              + expected
              + " (order per step: compress, project, decompress)");
    }
  }

  private static void check(float[] buffer, int length, String what) {
    if (buffer.length < length) {
      throw new IllegalArgumentException(
          what + " holds " + buffer.length + " values, expected at least " + length);
    }
  }
}
