package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The branch-free ReLU and ReLU mask of {@link BatchNormKernel} against the selects they replace,
 * bit for bit, over the float ranges that matter: zeros of both signs, subnormals, the smallest and
 * largest normals below 2^127, and random values of every exponent.
 */
class BranchFreeMasksTest {
  private static final float[] EDGES = {
    0f,
    -0f,
    Float.MIN_VALUE,
    2 * Float.MIN_VALUE,
    Float.MIN_NORMAL,
    Math.nextDown(Float.MIN_NORMAL),
    Math.nextUp(Float.MIN_NORMAL),
    1e-30f,
    0.5f,
    1f,
    Math.nextUp(1f),
    3.4e37f,
    Math.nextDown(0x1p127f)
  };

  @Test
  void reluIsMaxWithZero() {
    Random r = new Random(3);
    for (float v : EDGES) {
      check(v);
      check(-v);
    }
    for (int i = 0; i < 200_000; i++) {
      float v = Float.intBitsToFloat(r.nextInt());
      if (Float.isFinite(v) && Math.abs(v) < 0x1p127f) {
        check(v);
      }
    }
  }

  private static void check(float v) {
    float expected = Math.max(v, 0f) == 0f ? 0f : Math.max(v, 0f); // +0 for -0
    assertEquals(
        Float.floatToRawIntBits(expected),
        Float.floatToRawIntBits(BatchNormKernel.relu(v)),
        "relu(" + v + ")");
  }

  @Test
  void positiveMasksLikeTheSelect() {
    Random r = new Random(5);
    float[] ds = {1f, -1f, 0.375f, -2.5e-7f, 3e30f, Float.MIN_VALUE};
    for (float x : EDGES) {
      for (float d : ds) {
        checkMask(Math.abs(x), d);
      }
    }
    for (int i = 0; i < 200_000; i++) {
      float x = Math.abs(Float.intBitsToFloat(r.nextInt()));
      float d = (float) r.nextGaussian();
      if (Float.isFinite(x)) {
        checkMask(x, d);
      }
    }
    assertEquals(1f, BatchNormKernel.positive(Float.POSITIVE_INFINITY));
  }

  @Test
  void denseReluGradientIsTheSelectWithPositiveZeros() {
    Random r = new Random(7);
    float[] gs = {1f, -1f, 0f, -0f, 0.375f, -2.5e-7f, 3e30f, -Float.MIN_VALUE};
    for (float out : EDGES) {
      for (float g : gs) {
        checkDense(Math.abs(out), g);
      }
    }
    for (int i = 0; i < 200_000; i++) {
      float out = Math.abs(Float.intBitsToFloat(r.nextInt()));
      float g = Float.intBitsToFloat(r.nextInt());
      if (Float.isFinite(out) && Float.isFinite(g)) {
        checkDense(out, g);
      }
    }
  }

  /** Bit for bit: g where out > 0, else +0; a zero g of either sign comes out +0. */
  private static void checkDense(float out, float g) {
    float expected = out > 0 && g != 0f ? g : 0f;
    assertEquals(
        Float.floatToRawIntBits(expected),
        Float.floatToRawIntBits(DenseStack.reluGradient(g, out)),
        "g = " + g + ", out = " + out);
  }

  private static void checkMask(float x, float d) {
    float expected = x <= 0 ? 0f : d;
    float got = d * BatchNormKernel.positive(x);
    // equal as numbers; the select's +0 may come out as -0
    assertEquals(expected == 0f ? 0f : expected, got == 0f ? 0f : got, "mask at x = " + x);
    if (expected != 0f) {
      assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(got), "x = " + x);
    }
  }
}
