package io.spindle.model.fast;

import io.spindle.model.StepKey;

/**
 * Inverted dropout masks drawn exactly as {@link io.spindle.model.KeyedDropout} draws them, so the
 * fast paths and DL4J's layers drop the same units: element j of the example in row r is kept, and
 * scaled by {@code 1 / keep}, when {@code StepKey.uniform(key.exampleSeed(r, layer), j) < keep},
 * and set to 0 otherwise ({@code keep} is DL4J's retain probability, 1 - the config's dropout).
 *
 * <p>Speed. {@code uniform} is {@code (mix(seed + (j + 1) golden) >>> 11) 2^-53} (SplitMix64's
 * finaliser), so {@code uniform < keep} is exactly {@code (mix(...) >>> 11) < ceil(keep 2^53)}: an
 * integer comparison, no conversion to double. A row's draws are one loop over {@code long}s with
 * the per-column offsets {@code (j + 1) golden} precomputed, which HotSpot's C2 turns into SIMD
 * code (AVX-512's 64-bit multiply), leaving in a scratch row -1 (kept) or 0 (dropped); the caller's
 * pass then multiplies by {@code 1 / keep} masked with it, without a branch. The finaliser is
 * written out here (it is {@code StepKey}'s, which that class keeps private); {@code
 * DropoutMasksTest} checks the masks against {@code StepKey.uniform}.
 *
 * <p>Not thread-safe (one scratch row): one instance per {@link DenseStack}.
 */
final class DropoutMasks {
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private final long[] offsets; // (j + 1) golden
  private final long[] row; // -1: kept, 0: dropped
  private final float[] scales; // 1 / keep: kept, +0: dropped
  private final float[] values; // one row of the values being masked

  /** Masks of rows of up to {@code maxCols} elements. */
  DropoutMasks(int maxCols) {
    offsets = new long[maxCols];
    for (int j = 0; j < maxCols; j++) {
      offsets[j] = (j + 1L) * GOLDEN;
    }
    row = new long[maxCols];
    scales = new float[maxCols];
    values = new float[maxCols];
  }

  /** The integer form of {@code keep}: element kept iff its 53 random bits are below it. */
  static long threshold(double keep) {
    if (!(keep > 0 && keep <= 1)) {
      throw new IllegalArgumentException("keep probability must be in (0, 1], got " + keep);
    }
    return (long) Math.ceil(keep * 0x1.0p53);
  }

  /**
   * Draws the mask of row {@code r} of {@code key}'s share in layer {@code layer}, {@code cols}
   * elements, with {@code threshold} ({@link #threshold}); returns the scratch row: {@code -1} for
   * a kept element, {@code 0} for a dropped one (valid until the next call).
   */
  long[] draw(StepKey key, int layer, int r, long threshold, int cols) {
    long seed = key.exampleSeed(r, layer);
    long[] out = row;
    long[] off = offsets;
    for (int j = 0; j < cols; j++) {
      long z = seed + off[j];
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      out[j] = (((z ^ (z >>> 31)) >>> 11) - threshold) >> 63;
    }
    return out;
  }

  /**
   * Row {@code r}'s mask ({@link #draw}) as the factors dropout multiplies by: {@code scale}
   * ({@code (float) (1 / keep)}) where kept, {@code +0f} where dropped; returns the scratch row
   * (valid until the next call). A pass that multiplies a float row by it, all arrays indexed
   * {@code [c]}, is SIMD code under C2; one that reads the {@code long} mask is not (JDK 17's
   * SuperWord packs no loop that mixes 64- and 32-bit lanes, nor {@code Float.intBitsToFloat}),
   * hence this one scalar conversion per row.
   */
  float[] scales(StepKey key, int layer, int r, long threshold, float scale, int cols) {
    long[] mask = draw(key, layer, r, threshold, cols);
    int kept = Float.floatToRawIntBits(scale);
    float[] out = scales;
    for (int c = 0; c < cols; c++) {
      out[c] = Float.intBitsToFloat(kept & (int) mask[c]);
    }
    return out;
  }

  /**
   * Multiplies {@code values[at + r * cols + c]}, r in [0, rows), by the mask of row r of {@code
   * key}'s share, element c, of layer {@code layer}: by {@code (float) (1 / keep)} where kept, by
   * {@code +0f} where dropped. Each row is multiplied in a scratch row at index 0, so that every
   * array of the loop has the same index (C2 packs nothing else).
   */
  void apply(StepKey key, int layer, double keep, float[] values, int at, int rows, int cols) {
    long threshold = threshold(keep);
    float scale = (float) (1.0 / keep);
    float[] v = this.values;
    for (int r = 0; r < rows; r++) {
      float[] m = scales(key, layer, r, threshold, scale, cols);
      int base = at + r * cols;
      System.arraycopy(values, base, v, 0, cols);
      for (int c = 0; c < cols; c++) {
        v[c] *= m[c];
      }
      System.arraycopy(v, 0, values, base, cols);
    }
  }
}
