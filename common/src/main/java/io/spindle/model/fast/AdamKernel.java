package io.spindle.model.fast;

/**
 * Adam's update over float arrays in a loop the JIT compiler turns into SIMD code (prototype for
 * the optimiser of issue 13's phase 2; the optimiser itself is {@code
 * io.spindle.optim.FlatOptimizer}, whose fused loop walks two indices and computes the square root
 * in double, so HotSpot keeps it scalar). Same formula and state layout ({@code [m | v]}, n values
 * each) as FlatOptimizer: {@code m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr / (1 -
 * b1^t) m / (sqrt(v / (1 - b2^t)) + eps)} at 1-based step t; results equal to float rounding
 * ({@code AdamKernelTest}).
 */
public final class AdamKernel {
  private AdamKernel() {}

  /**
   * One step over {@code params[p, p + n)} with {@code grad[g, g + n)} and {@code state} (length 2
   * n) at 0-based {@code iteration}.
   */
  public static void step(
      float[] params,
      int p,
      float[] grad,
      int g,
      float[] state,
      int n,
      long iteration,
      double rate,
      double beta1,
      double beta2,
      double epsilon) {
    long t = iteration + 1;
    float b1 = (float) beta1;
    float b2 = (float) beta2;
    float oneMinusB1 = (float) (1 - beta1);
    float oneMinusB2 = (float) (1 - beta2);
    float invC2 = (float) (1 / (1 - Math.pow(beta2, t)));
    float step = (float) (rate / (1 - Math.pow(beta1, t)));
    float eps = (float) epsilon;
    for (int i = 0; i < n; i++) {
      float gi = grad[g + i];
      float m = state[i] * b1 + gi * oneMinusB1;
      float v = state[n + i] * b2 + gi * gi * oneMinusB2;
      state[i] = m;
      state[n + i] = v;
      params[p + i] -= m * step / ((float) Math.sqrt(v * invC2) + eps);
    }
  }
}
