package io.spindle.bench;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.optim.FlatOptimizer;
import java.io.PrintStream;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The fused float32 optimiser step ({@link FlatOptimizer#step(float[], int, float[], int, long,
 * float)}) alone, in nanoseconds per parameter, for every optimiser type: whether HotSpot turned
 * its loop into SIMD code shows as the distance to the memory bound (Adam reads parameter, gradient
 * and two state values and writes three: 28 bytes per parameter). The parameters and the gradient
 * sit at one offset inside larger arrays, as a ZeRO-1 shard's do. Part of {@code bench
 * --profile-collective}.
 */
final class OptimizerProfile {
  private OptimizerProfile() {}

  /**
   * {@code java -cp 'bench/target/lib/*:bench/target/classes' io.spindle.bench.OptimizerProfile [n
   * [steps]]}: the table alone (default: the MNIST MLP's half shard, 638,405 parameters).
   */
  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 638_405;
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 100;
    run(n, reps, System.out);
  }

  /** Times each optimiser over {@code n} parameters and prints a table; returns ns per param. */
  static double[] run(int n, int reps, PrintStream console) {
    OptimizerType[] types = OptimizerType.values();
    double[] out = new double[types.length + 1];
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            "%nfused optimiser step over %d parameters (FlatOptimizer, float32, best mean of 5 x"
                + " %d steps)%n| optimiser | ms per step | ns per parameter |%n|---|---:|---:|%n",
            n,
            reps));
    for (int k = 0; k <= types.length; k++) {
      // the last row: Adam with the mean folded in (gradScale = 1 / examples), as the collective
      // step's GlobalStep calls it
      OptimizerType type = k < types.length ? types[k] : OptimizerType.ADAM;
      float scale = k < types.length ? 1f : 1f / 256;
      double ms = millisPerStep(type, n, scale, reps);
      out[k] = ms * 1e6 / n;
      b.append(
          String.format(
              Locale.ROOT,
              "| %s%s | %.3f | %.2f |%n",
              type.configName(),
              k < types.length ? "" : " (mean fused, scale 1/256)",
              ms,
              out[k]));
    }
    console.print(b);
    console.flush();
    return out;
  }

  private static double millisPerStep(OptimizerType type, int n, float gradScale, int reps) {
    OptimizerConfig config = new OptimizerConfig(type, 1e-3, 0.9, 0.9, 0.999, 1e-8, 0.95);
    FlatOptimizer opt = FlatOptimizer.create(config, n, org.nd4j.linalg.api.buffer.DataType.FLOAT);
    SplittableRandom rng = new SplittableRandom(13);
    int p = 5; // a shard's parameters and gradient sit at the same offset of whole vectors
    float[] params = new float[p + n + 3];
    float[] grad = new float[p + n + 7];
    for (int i = 0; i < params.length; i++) {
      params[i] = (float) rng.nextGaussian() * 0.05f;
    }
    for (int i = 0; i < grad.length; i++) {
      grad[i] = (float) rng.nextGaussian() * 0.01f;
    }
    long[] it = {0};
    return Primitives.bestMillis(() -> opt.step(params, p, grad, p, it[0]++, gradScale), reps);
  }
}
