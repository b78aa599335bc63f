package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.model.StepKey;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The integer-threshold masks of {@link DropoutMasks} against the definition they replace: element
 * c of row r kept, times {@code (float) (1 / keep)}, iff {@code StepKey.uniform(key.exampleSeed(r,
 * layer), c) < keep}; bit for bit, over keep probabilities that are and are not dyadic, including
 * the uniform draws that sit right at the threshold.
 */
class DropoutMasksTest {
  /** The definition, as {@code KeyedDropout} and the first fast path apply it. */
  private static void reference(
      StepKey key, int layer, double keep, float[] values, int rows, int cols) {
    float kept = (float) (1.0 / keep);
    for (int r = 0; r < rows; r++) {
      long seed = key.exampleSeed(r, layer);
      for (int c = 0; c < cols; c++) {
        values[r * cols + c] *= StepKey.uniform(seed, c) < keep ? kept : 0f;
      }
    }
  }

  @Test
  void masksEqualTheUniformDefinitionBitForBit() {
    Random random = new Random(7);
    int rows = 37;
    int cols = 203;
    DropoutMasks masks = new DropoutMasks(cols);
    for (double keep : new double[] {0.8, 0.5, 0.6, 0.75, 1.0 / 3, 0.999, 1e-3, 1.0}) {
      for (int trial = 0; trial < 4; trial++) {
        StepKey key = new StepKey(random.nextLong(), random.nextInt(1000), random.nextInt(500));
        int layer = random.nextInt(5);
        float[] want = new float[rows * cols];
        for (int i = 0; i < want.length; i++) {
          want[i] = (float) random.nextGaussian(); // negative values too: -x * 0f is -0f
        }
        float[] got = want.clone();
        reference(key, layer, keep, want, rows, cols);
        masks.apply(key, layer, keep, got, 0, rows, cols);
        for (int i = 0; i < want.length; i++) {
          assertEquals(
              Float.floatToRawIntBits(want[i]),
              Float.floatToRawIntBits(got[i]),
              "keep " + keep + ", element " + i);
        }
      }
    }
  }

  @Test
  void scalesAreTheKeptFactorOrZeroAndApplyLeavesValuesOutsideItsRowsAlone() {
    StepKey key = new StepKey(9, 2, 40);
    double keep = 0.6;
    float scale = (float) (1.0 / keep);
    DropoutMasks masks = new DropoutMasks(50);
    float[] factors = masks.scales(key, 1, 3, DropoutMasks.threshold(keep), scale, 50).clone();
    long seed = key.exampleSeed(3, 1);
    for (int c = 0; c < 50; c++) {
      float want = StepKey.uniform(seed, c) < keep ? scale : 0f;
      assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(factors[c]), "col " + c);
    }
    // rows 0..3 of a 4 x 50 block that starts at offset 7 of a longer array
    Random random = new Random(3);
    float[] want = new float[7 + 4 * 50 + 5];
    for (int i = 0; i < want.length; i++) {
      want[i] = (float) random.nextGaussian();
    }
    float[] got = want.clone();
    float[] block = java.util.Arrays.copyOfRange(want, 7, 7 + 200);
    reference(key, 1, keep, block, 4, 50);
    System.arraycopy(block, 0, want, 7, 200);
    masks.apply(key, 1, keep, got, 7, 4, 50);
    for (int i = 0; i < want.length; i++) {
      assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "at " + i);
    }
  }

  @Test
  void drawnRowIsMinusOneWhereKeptAndZeroWhereDropped() {
    StepKey key = new StepKey(3, 5, 11);
    double keep = 0.7;
    DropoutMasks masks = new DropoutMasks(64);
    long[] row = masks.draw(key, 2, 4, DropoutMasks.threshold(keep), 64).clone();
    long seed = key.exampleSeed(4, 2);
    int dropped = 0;
    for (int c = 0; c < 64; c++) {
      assertEquals(StepKey.uniform(seed, c) < keep ? -1L : 0L, row[c], "column " + c);
      dropped += row[c] == 0 ? 1 : 0;
    }
    assertTrue(dropped > 0 && dropped < 64, "some but not all of 64 dropped, got " + dropped);
  }

  @Test
  void thresholdIsExactAtDyadicKeepAndRejectsOutOfRange() {
    assertEquals(1L << 52, DropoutMasks.threshold(0.5));
    assertEquals(1L << 53, DropoutMasks.threshold(1.0));
    // uniform u = b 2^-53 < keep  iff  b < ceil(keep 2^53): the boundary b itself is not kept
    long t = DropoutMasks.threshold(0.3);
    assertTrue((t - 1) * 0x1.0p-53 < 0.3 && t * 0x1.0p-53 >= 0.3);
    assertThrows(IllegalArgumentException.class, () -> DropoutMasks.threshold(0));
    assertThrows(IllegalArgumentException.class, () -> DropoutMasks.threshold(1.5));
  }
}
