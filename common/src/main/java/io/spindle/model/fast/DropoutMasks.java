package io.spindle.model.fast;

import io.spindle.model.StepKey;

/**
 * Inverted dropout masks drawn exactly as {@link io.spindle.model.KeyedDropout} draws them, so the
 * fast paths and DL4J's layers drop the same units: element j of the example in row r is kept, and
 * scaled by {@code 1 / keep}, when {@code StepKey.uniform(key.exampleSeed(r, layer), j) < keep},
 * and set to 0 otherwise ({@code keep} is DL4J's retain probability, 1 - the config's dropout).
 */
final class DropoutMasks {
  private DropoutMasks() {}

  /**
   * Multiplies {@code values[at + r * cols + c]}, r in [0, rows), by the mask of row r of {@code
   * key}'s share, element c, of layer {@code layer}.
   */
  static void apply(
      StepKey key, int layer, double keep, float[] values, int at, int rows, int cols) {
    if (!(keep > 0 && keep <= 1)) {
      throw new IllegalArgumentException("keep probability must be in (0, 1], got " + keep);
    }
    float kept = (float) (1.0 / keep);
    for (int r = 0; r < rows; r++) {
      long seed = key.exampleSeed(r, layer);
      int row = at + r * cols;
      for (int c = 0; c < cols; c++) {
        values[row + c] *= StepKey.uniform(seed, c) < keep ? kept : 0f;
      }
    }
  }
}
