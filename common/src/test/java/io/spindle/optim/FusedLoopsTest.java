package io.spindle.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.model.ParameterRules;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The fused float32 loops of {@link FlatOptimizer} (one index, SIMD under C2) against the
 * per-element formulas of the scalar loops they replaced, written here one element at a time: the
 * same bits (compared as {@code floatToIntBits}, so -0 differs from +0 and any NaN equals any NaN),
 * parameters and state, for every optimiser, at offsets inside larger arrays whose other entries
 * stay untouched (the gradient at the parameters' offset, as the collective passes it, and at
 * another), with NaN, infinities, signed zeros, subnormals and values whose squares overflow among
 * random ones, with and without the mean's scale. Enough steps run on a long vector that C2
 * compiles the loops (and a tail that no full SIMD block covers is left at the end).
 */
class FusedLoopsTest {
  private static final float[] EDGES = {
    Float.NaN,
    Float.POSITIVE_INFINITY,
    Float.NEGATIVE_INFINITY,
    0f,
    -0f,
    Float.MIN_VALUE,
    -Float.MIN_VALUE,
    Float.MIN_NORMAL,
    1e-40f,
    -3e-39f,
    1e30f,
    -1e25f,
    Float.MAX_VALUE,
    1f,
  };

  /** One element of the scalar loops' step; {@code st} holds the element's k state values. */
  private static void element(
      OptimizerConfig c, float[] w, int wi, float gi, float[] st, long iteration) {
    float lr = (float) c.learningRate();
    float mu = (float) c.momentum();
    float eps = (float) c.epsilon();
    switch (c.type()) {
      case SGD -> w[wi] -= gi * lr;
      case MOMENTUM -> {
        st[0] = st[0] * mu - gi * lr;
        w[wi] += st[0];
      }
      case NESTEROV -> {
        float before = st[0];
        st[0] = before * mu - gi * lr;
        w[wi] += before * -mu + st[0] * (float) (1 + c.momentum());
      }
      case ADAGRAD -> {
        st[0] = st[0] + gi * gi;
        w[wi] -= gi * lr / ((float) Math.sqrt(st[0]) + eps);
      }
      case RMSPROP -> {
        st[0] = st[0] * (float) c.rmsDecay() + gi * gi * (float) (1 - c.rmsDecay());
        w[wi] -= gi * lr / ((float) Math.sqrt(st[0]) + eps);
      }
      case ADAM -> {
        long t = iteration + 1;
        st[0] = st[0] * (float) c.beta1() + gi * (float) (1 - c.beta1());
        st[1] = st[1] * (float) c.beta2() + gi * gi * (float) (1 - c.beta2());
        float c2 = (float) (1 - Math.pow(c.beta2(), t));
        float step = (float) (c.learningRate() / (1 - Math.pow(c.beta1(), t)));
        w[wi] -= st[0] * step / ((float) Math.sqrt(st[1] / c2) + eps);
      }
    }
  }

  private static float value(SplittableRandom rng) {
    return rng.nextInt(50) == 0
        ? EDGES[rng.nextInt(EDGES.length)]
        : (float) (rng.nextGaussian() * Math.pow(10, rng.nextInt(-6, 3)));
  }

  private static float[] random(SplittableRandom rng, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = value(rng);
    }
    return a;
  }

  private static int[] bits(float[] a) {
    int[] out = new int[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = Float.floatToIntBits(a[i]);
    }
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(OptimizerType.class)
  void loopsGiveTheScalarFormulasBitsAtOffsetsWithEdgeValues(OptimizerType type) {
    OptimizerConfig config = new OptimizerConfig(type, 0.01, 0.9, 0.9, 0.999, 1e-8, 0.95);
    int n = 4099;
    int p = 3;
    int k = FlatOptimizer.stateMultiplier(type);
    SplittableRandom rng = new SplittableRandom(type.ordinal() + 17);
    FlatOptimizer opt = FlatOptimizer.create(config, n, DataType.FLOAT);
    float[] state = new float[k * n];
    for (int i = 0; i < state.length; i++) {
      // moments and sums of squares are >= 0 in a real run; a few negatives and edges test NaN
      state[i] = rng.nextInt(40) == 0 ? value(rng) : Math.abs(value(rng));
    }
    opt.setState(org.nd4j.linalg.factory.Nd4j.createFromArray(state.clone()));
    float[] w = random(rng, p + n + 5);
    float[] expected = w.clone();
    float[] one = new float[k];
    for (int t = 0; t < 300; t++) {
      int g = t % 3 == 0 ? 7 : p; // the collective's call has g == p; another g is moved there
      float[] grad = random(rng, g + n + 2);
      float[] kept = grad.clone();
      float scale = t % 2 == 0 ? 1f : 1f / (3 + t);
      opt.step(w, p, grad, g, t, scale);
      assertArrayEquals(bits(kept), bits(grad), "the gradient is left as it is");
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
          one[j] = state[j * n + i];
        }
        element(config, expected, p + i, kept[g + i] * scale, one, t);
        for (int j = 0; j < k; j++) {
          state[j * n + i] = one[j];
        }
      }
      if (t % 50 == 0 || t == 299) {
        assertArrayEquals(bits(expected), bits(w), type + " parameters after step " + t);
        assertArrayEquals(
            bits(state), bits(opt.state().toFloatVector()), type + " state after step " + t);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(OptimizerType.class)
  void scaleInsideThePassIsScalingInPlaceThenSteppingWithRawRanges(OptimizerType type) {
    OptimizerConfig config = new OptimizerConfig(type, 0.05, 0.9, 0.9, 0.999, 1e-8, 0.95);
    MultiLayerNetwork net = GlobalStepTest.net();
    ParameterRules rules = GlobalStepTest.rules(net);
    int n = (int) net.numParams();
    FlatOptimizer fused =
        FlatOptimizer.create(config, n, DataType.FLOAT).rawUpdates(rules.rawUpdates());
    FlatOptimizer plain =
        FlatOptimizer.create(config, n, DataType.FLOAT).rawUpdates(rules.rawUpdates());
    float[] a = net.params().toFloatVector();
    float[] b = a.clone();
    for (int t = 0; t < 4; t++) {
      float[] sum = GlobalStepTest.gradient(n, 90 + t);
      float scale = (float) (1.0 / (5 + t));
      fused.step(a, 0, sum.clone(), 0, t, scale);
      for (int i = 0; i < n; i++) {
        sum[i] *= scale;
      }
      plain.step(b, 0, sum, 0, t);
    }
    assertArrayEquals(bits(b), bits(a));
    assertArrayEquals(bits(plain.state().toFloatVector()), bits(fused.state().toFloatVector()));
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(OptimizerType.class)
  void stateFollowsTheParametersWhenTheirOffsetChanges(OptimizerType type) {
    OptimizerConfig config = new OptimizerConfig(type, 0.02, 0.9, 0.9, 0.999, 1e-8, 0.95);
    int n = 37;
    SplittableRandom rng = new SplittableRandom(5);
    FlatOptimizer moving = FlatOptimizer.create(config, n, DataType.FLOAT);
    FlatOptimizer fixed = FlatOptimizer.create(config, n, DataType.FLOAT);
    float[] w = random(rng, n);
    int[] offsets = {0, 9, 2, 9, 0};
    for (int t = 0; t < offsets.length; t++) {
      int at = offsets[t];
      float[] grad = random(rng, n);
      float[] placed = new float[at + n + 1];
      float[] placedGrad = new float[at + n];
      System.arraycopy(w, 0, placed, at, n);
      System.arraycopy(grad, 0, placedGrad, at, n);
      moving.step(placed, at, placedGrad, at, t, 0.5f);
      fixed.step(w, 0, grad, 0, t, 0.5f);
      assertArrayEquals(bits(w), bits(java.util.Arrays.copyOfRange(placed, at, at + n)));
      assertArrayEquals(bits(fixed.state().toFloatVector()), bits(moving.state().toFloatVector()));
    }
  }
}
