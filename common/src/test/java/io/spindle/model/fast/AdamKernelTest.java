package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.optim.FlatOptimizer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/** The SIMD-friendly Adam loop gives FlatOptimizer's Adam steps to float rounding. */
class AdamKernelTest {
  @Test
  void fiveStepsMatchFlatOptimizer() {
    int n = 1003;
    OptimizerConfig adam = OptimizerConfig.of(OptimizerType.ADAM, 0.01);
    FlatOptimizer reference = FlatOptimizer.create(adam, n, DataType.FLOAT);
    Random r = new Random(3);
    float[] w1 = new float[n + 5];
    for (int i = 0; i < w1.length; i++) {
      w1[i] = (float) r.nextGaussian();
    }
    float[] w2 = w1.clone();
    float[] state = new float[2 * n];
    for (int step = 0; step < 5; step++) {
      float[] grad = new float[n + 2];
      for (int i = 0; i < grad.length; i++) {
        grad[i] = (float) r.nextGaussian() * (i % 7 == 0 ? 1e-4f : 1f);
      }
      reference.step(w1, 5, grad, 2, step);
      AdamKernel.step(
          w2, 5, grad, 2, state, n, step, 0.01, adam.beta1(), adam.beta2(), adam.epsilon());
      for (int i = 0; i < w1.length; i++) {
        assertEquals(
            w1[i], w2[i], 2e-6 * Math.max(1, Math.abs(w1[i])), "step " + step + " at " + i);
      }
    }
    float[] s = reference.state().data().asFloat();
    for (int i = 0; i < s.length; i++) {
      assertEquals(s[i], state[i], 1e-6 * Math.max(1e-3, Math.abs(s[i])), "state " + i);
    }
  }
}
