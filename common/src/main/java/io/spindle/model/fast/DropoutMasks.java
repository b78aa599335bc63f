package io.spindle.model.fast;

/**
 * Inverted dropout masks from a {@link KeyedRandom}: element (example, unit) is kept with
 * probability {@code keep}, and a kept value is scaled by {@code 1 / keep}, so the expectation is
 * unchanged (DL4J's convention: the rate given is the probability of keeping). Each 64-bit draw
 * decides two units (32 bits each), so the probability is exact to 2^-32.
 */
public final class DropoutMasks {
  private DropoutMasks() {}

  /**
   * The threshold below which a 32-bit draw (as an unsigned value) keeps its unit: {@code
   * round(keep * 2^32)}.
   */
  public static long threshold(double keep) {
    if (!(keep > 0 && keep <= 1)) {
      throw new IllegalArgumentException("keep probability must be in (0, 1], got " + keep);
    }
    return Math.round(keep * 4294967296.0);
  }

  /** Whether unit {@code unit} of the draw whose state is {@code base} is kept. */
  public static boolean kept(KeyedRandom rng, long base, int unit, long threshold) {
    long bits = rng.next(base, unit >>> 1);
    long half = (unit & 1) == 0 ? bits & 0xFFFFFFFFL : bits >>> 32;
    return half < threshold;
  }

  /**
   * Multiplies {@code values[at + r * cols + c]} by the mask of example {@code firstExample + r},
   * unit c, for r in [0, rows): 0 when dropped, {@code 1 / keep} when kept. {@code stream} tells
   * apart the layers of one example.
   */
  public static void apply(
      KeyedRandom rng,
      long step,
      long firstExample,
      int stream,
      double keep,
      float[] values,
      int at,
      int rows,
      int cols) {
    long threshold = threshold(keep);
    float scale = (float) (1.0 / keep);
    for (int r = 0; r < rows; r++) {
      long base = rng.base(step, firstExample + r, stream);
      int row = at + r * cols;
      int c = 0;
      for (; c + 1 < cols; c += 2) {
        long bits = rng.next(base, c >>> 1);
        values[row + c] *= (bits & 0xFFFFFFFFL) < threshold ? scale : 0f;
        values[row + c + 1] *= (bits >>> 32) < threshold ? scale : 0f;
      }
      if (c < cols) {
        long bits = rng.next(base, c >>> 1);
        values[row + c] *= (bits & 0xFFFFFFFFL) < threshold ? scale : 0f;
      }
    }
  }
}
