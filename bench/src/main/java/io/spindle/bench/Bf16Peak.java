package io.spindle.bench;

import io.spindle.runtime.Amx;
import io.spindle.runtime.Nd4jRuntime;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The bf16 matmul peak of a {@code model.precision: bf16} bench, beside {@link Calibration}'s
 * float32 one: best FLOP/s of {@code n x n} products on bfloat16 operands with 1 and 2 threads,
 * through libnd4j's {@code matmul} op (oneDNN; AMX where {@code Amx.enable()} ran before oneDNN's
 * first use, as the bench does for a bf16 config), which is the op Spindle's bf16 products run on
 * ({@code DenseStack.matmul}). Also PyTorch's bf16 {@code torch.mm} peak at the same size when the
 * peer is available (0 otherwise), and whether AMX is enabled in this JVM ({@link Amx#enable}). The
 * JVM's bf16 verdict (whether Spindle's products compute in bf16) is not asked here: it is the
 * Spindle systems' own, taken when their first bf16 model starts, and their rows record it as
 * {@code compute_precision}.
 *
 * @param size n of the n x n products
 * @param peak1 ND4J bf16 FLOP/s on one thread
 * @param peak2 ND4J bf16 FLOP/s on two threads
 * @param torchPeak1 PyTorch bf16 FLOP/s on one thread, 0 without PyTorch
 * @param torchPeak2 PyTorch bf16 FLOP/s on two threads, 0 without PyTorch
 * @param unavailable why AMX is not enabled in this JVM, or null when it is
 */
record Bf16Peak(
    int size,
    double peak1,
    double peak2,
    double torchPeak1,
    double torchPeak2,
    String unavailable) {

  /** What the peak measures, for bench.json. */
  String method() {
    return String.format(
        Locale.ROOT,
        "ND4J (libnd4j matmul op, oneDNN) %dx%d products on bfloat16 operands with a bfloat16"
            + " result, best of %d after a warm-up; %s",
        size,
        size,
        Calibration.REPEATS,
        unavailable == null
            ? "AMX enabled in this JVM before oneDNN's first use"
            : "AMX not enabled: " + unavailable);
  }

  /** The bf16 peak for a system using this many cores (1 or more: the 2-thread peak). */
  double peakFor(int cores) {
    return cores <= 1 ? peak1 : peak2;
  }

  /** Measures the peaks (PyTorch's too when {@code torch} is not null). */
  static Bf16Peak measure(int size, TorchPeer torch) {
    String unavailable = Amx.enable(); // idempotent; the bench enabled it before the fp32 peak
    double p1 = nd4jPeak(size, 1);
    double p2 = nd4jPeak(size, 2);
    double t1 = torch == null ? 0 : torch.peakFlops(size, 1, "bfloat16");
    double t2 = torch == null ? 0 : torch.peakFlops(size, 2, "bfloat16");
    return new Bf16Peak(size, p1, p2, t1, t2, unavailable);
  }

  /** Best FLOP/s of {@code 2 n^3}-FLOP bf16 products with {@code threads} threads. */
  static double nd4jPeak(int n, int threads) {
    Nd4jRuntime.configureThreads(threads);
    java.util.SplittableRandom rng = new java.util.SplittableRandom(n); // never ND4J's own RNG
    INDArray a = uniform(rng, n, n).castTo(DataType.BFLOAT16);
    INDArray b = uniform(rng, n, n).castTo(DataType.BFLOAT16);
    INDArray c = Nd4j.create(DataType.BFLOAT16, n, n);
    product(a, b, c); // warm-up (oneDNN creates the primitive)
    long best = Long.MAX_VALUE;
    for (int i = 0; i < Calibration.REPEATS; i++) {
      long t0 = System.nanoTime();
      product(a, b, c);
      best = Math.min(best, System.nanoTime() - t0);
    }
    return 2.0 * n * n * (double) n / (best / 1e9);
  }

  /** A {@code rows x cols} float32 matrix of uniform [0, 1) values from {@code rng}. */
  static INDArray uniform(java.util.SplittableRandom rng, int rows, int cols) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rng.nextDouble();
    }
    return Nd4j.create(v, new long[] {rows, cols}, DataType.FLOAT);
  }

  /** {@code c = a b} through libnd4j's matmul op, in the operands' type. */
  static void product(INDArray a, INDArray b, INDArray c) {
    Nd4j.exec(
        DynamicCustomOp.builder("matmul")
            .addInputs(a, b)
            .addOutputs(c)
            .addIntegerArguments(0, 0, 0)
            .build());
  }
}
