package io.spindle.bench;

import io.spindle.runtime.Nd4jRuntime;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The bf16 assessment (issue 13, item 4): libnd4j's matmul op (oneDNN) in float32 and in bfloat16
 * at the MLP's shapes and at 2048^3, on the calling thread's OpenMP team, with the cost of ND4J's
 * float32-to-bfloat16 cast and the relative error of the bf16 product. Which oneDNN kernel runs
 * depends on the environment: {@code DNNL_MAX_CPU_ISA=AVX512_CORE_AMX} lets oneDNN 2.3 (the one in
 * nd4j-native 1.0.0-M2.1) use AMX, which Linux only allows after the process asked for it ({@code
 * arch_prctl(ARCH_REQ_XCOMP_PERM)}, which oneDNN 2.3 does not do; {@code
 * bench/src/main/c/amxperm.c} is a preload shim that does). Usage: {@code java -cp <bench
 * classpath> ...MatmulPrecision [threads]}.
 */
public final class MatmulPrecision {
  private MatmulPrecision() {}

  public static void main(String[] args) {
    Nd4jRuntime.selectNativeBuild();
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    Nd4jRuntime.configureThreads(threads);
    int[][] shapes = {
      {128, 784, 800}, {128, 800, 800}, {800, 128, 800}, {256, 784, 800}, {2048, 2048, 2048}
    };
    System.out.printf(
        Locale.ROOT,
        "%-16s %8s %10s %10s %10s %12s %9s%n",
        "m x k x n",
        "threads",
        "f32 GF/s",
        "bf16 GF/s",
        "bf16/f32",
        "cast us",
        "rel err");
    for (int[] s : shapes) {
      int m = s[0];
      int k = s[1];
      int n = s[2];
      int reps = m >= 2048 ? 3 : 40;
      double flop = 2.0 * m * k * n;
      INDArray a = Nd4j.rand(DataType.FLOAT, m, k);
      INDArray b = Nd4j.rand(DataType.FLOAT, k, n);
      INDArray c = Nd4j.create(DataType.FLOAT, m, n);
      INDArray a16 = a.castTo(DataType.BFLOAT16);
      INDArray b16 = b.castTo(DataType.BFLOAT16);
      INDArray c16 = Nd4j.create(DataType.BFLOAT16, m, n);
      double f32 = Primitives.bestMillis(() -> matmul(a, b, c), reps);
      double bf16 = Primitives.bestMillis(() -> matmul(a16, b16, c16), reps);
      double cast = Primitives.bestMillis(() -> a.castTo(DataType.BFLOAT16), reps);
      matmul(a, b, c);
      matmul(a16, b16, c16);
      double err =
          c16.castTo(DataType.FLOAT).sub(c).norm2Number().doubleValue()
              / c.norm2Number().doubleValue();
      System.out.printf(
          Locale.ROOT,
          "%-16s %8d %10.0f %10.0f %10.2f %12.0f %9.1e%n",
          m + "x" + k + "x" + n,
          threads,
          flop / f32 / 1e6,
          flop / bf16 / 1e6,
          f32 / bf16,
          cast * 1e3,
          err);
    }
  }

  private static void matmul(INDArray a, INDArray b, INDArray c) {
    Bf16Peak.product(a, b, c);
  }
}
