package io.spindle.bench;

import io.spindle.config.SpindleConfig;
import io.spindle.runtime.Nd4jRuntime;
import java.util.HashMap;
import java.util.Map;
import java.util.function.DoubleSupplier;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Reference figures measured in the same run as the systems: the fp32 matrix-multiply peak with 1
 * and 2 threads (best of a few {@code n x n} products, ND4J's and, when it is installed,
 * PyTorch's), and the pure compute time of one training step (DL4J {@code fit()} on one thread, the
 * batch a worker gets), from which the non-compute time of systems without their own compute
 * counter is derived.
 *
 * <p>A system's {@code % peak} divides its model FLOP/s by the faster of the two libraries' peaks
 * on its cores ({@link #peakFor}). On a shared host the second core is sometimes busy while the
 * 2-thread products run, and the 2-thread figure then reads no higher than the 1-thread one, which
 * would inflate every 2-core {@code % peak}: ND4J's 2-thread products are re-measured (up to {@link
 * #TWO_CORE_RETRIES} more times, keeping the best) while they read below {@link #TWO_CORE_RATIO}
 * times the 1-thread peak, and the faster library's figure is used.
 */
final class Calibration {
  static final int REPEATS = 10;
  static final int COMPUTE_STEPS = 20;

  /** ND4J's 2-thread peak is re-measured while below this multiple of its 1-thread peak. */
  static final double TWO_CORE_RATIO = 1.5;

  static final int TWO_CORE_RETRIES = 3;

  final int matmulSize;

  /** ND4J's fp32 matmul peak on 1 thread (best over BLAS and oneDNN). */
  final double peak1;

  /** ND4J's fp32 matmul peak on 2 threads, the best of {@link #twoThreadAttempts} measurements. */
  final double peak2;

  /** How many times ND4J's 2-thread peak was measured (1 when the first reading was plausible). */
  final int twoThreadAttempts;

  /** PyTorch's fp32 matmul peak at the same size with 1 and 2 threads; 0 without PyTorch. */
  final double torchPeak1;

  final double torchPeak2;

  private final SpindleConfig config;
  private final BenchData data;
  private final Map<Integer, Double> computeSeconds = new HashMap<>();

  Calibration(
      int matmulSize,
      double peak1,
      TwoThreadPeak peak2,
      double torchPeak1,
      double torchPeak2,
      SpindleConfig config,
      BenchData data) {
    this.matmulSize = matmulSize;
    this.peak1 = peak1;
    this.peak2 = peak2.flops();
    this.twoThreadAttempts = peak2.attempts();
    this.torchPeak1 = torchPeak1;
    this.torchPeak2 = torchPeak2;
    this.config = config;
    this.data = data;
  }

  /**
   * ND4J's peaks alone, as if measured once and without PyTorch: for reports built from given
   * figures (it has no step time of its own).
   */
  static Calibration ofPeaks(double peak1, double peak2) {
    return new Calibration(0, peak1, new TwoThreadPeak(peak2, 1), 0, 0, null, null);
  }

  /**
   * Measures the peaks (PyTorch's too when {@code torch} is not null). ND4J's 2-thread reading is
   * judged against the faster of the two libraries' 1-thread peaks: a core that gave PyTorch's
   * products 144 GFLOP/s in the same minute was there for ND4J's too (2026-12-07 20:41: ND4J read
   * 109.7 on one thread and 199.5 on two, PyTorch 143.8 on one).
   */
  static Calibration measure(
      int matmulSize, SpindleConfig config, BenchData data, TorchPeer torch) {
    double one = matmulPeak(matmulSize, 1);
    double torchOne = torch == null ? 0 : torch.peakFlops(matmulSize, 1, "float32");
    TwoThreadPeak two = twoThreadPeak(Math.max(one, torchOne), () -> matmulPeak(matmulSize, 2));
    return new Calibration(
        matmulSize,
        one,
        two,
        torchOne,
        torch == null ? 0 : torch.peakFlops(matmulSize, 2, "float32"),
        config,
        data);
  }

  /** The best of one or more 2-thread peak measurements, and how many were taken. */
  record TwoThreadPeak(double flops, int attempts) {}

  /**
   * Measures the 2-thread peak, again while it reads below {@link #TWO_CORE_RATIO} times {@code
   * onePeak} (the best 1-thread peak measured: at most {@link #TWO_CORE_RETRIES} more times), and
   * keeps the best reading.
   */
  static TwoThreadPeak twoThreadPeak(double onePeak, DoubleSupplier measure) {
    double best = measure.getAsDouble();
    int attempts = 1;
    while (best < TWO_CORE_RATIO * onePeak && attempts <= TWO_CORE_RETRIES) {
      best = Math.max(best, measure.getAsDouble());
      attempts++;
    }
    return new TwoThreadPeak(best, attempts);
  }

  /**
   * The matmul peak a system using this many cores is measured against (1, or more: the 2-thread
   * peak): the faster of ND4J's and PyTorch's (0 without PyTorch).
   */
  double peakFor(int cores) {
    return cores <= 1 ? Math.max(peak1, torchPeak1) : Math.max(peak2, torchPeak2);
  }

  /** ND4J's own peak on this many cores (1, or more: the 2-thread peak). */
  double nd4jPeakFor(int cores) {
    return cores <= 1 ? peak1 : peak2;
  }

  /** Which library's products gave {@link #peakFor}: {@code "nd4j"} or {@code "pytorch"}. */
  String peakSource(int cores) {
    return (cores <= 1 ? torchPeak1 > peak1 : torchPeak2 > peak2) ? "pytorch" : "nd4j";
  }

  /**
   * Best FLOP/s of {@code 2 n^3}-FLOP fp32 products with {@code threads} threads, over ND4J's two
   * routes to a product: {@code mmuli} (BLAS: OpenBLAS on the CPU backend) and libnd4j's {@code
   * matmul} op (oneDNN in the oneDNN build), whichever is faster.
   */
  static double matmulPeak(int n, int threads) {
    Nd4jRuntime.configureThreads(threads);
    INDArray a = Nd4j.rand(DataType.FLOAT, n, n);
    INDArray b = Nd4j.rand(DataType.FLOAT, n, n);
    INDArray c = Nd4j.create(DataType.FLOAT, n, n);
    Runnable blas = () -> a.mmuli(b, c);
    Runnable onednn =
        () ->
            Nd4j.exec(
                org.nd4j.linalg.api.ops.DynamicCustomOp.builder("matmul")
                    .addInputs(a, b)
                    .addOutputs(c)
                    .addIntegerArguments(0, 0, 0)
                    .build());
    long best = Long.MAX_VALUE;
    for (Runnable product : new Runnable[] {blas, onednn}) {
      product.run(); // warm-up
      for (int i = 0; i < REPEATS; i++) {
        long t0 = System.nanoTime();
        product.run();
        best = Math.min(best, System.nanoTime() - t0);
      }
    }
    return 2.0 * n * n * (double) n / (best / 1e9);
  }

  /**
   * Seconds of one {@code fit()} step on one ND4J thread with a mini-batch of {@code batch}
   * examples: the compute a worker does per step when the global batch is split {@code globalBatch
   * / batch} ways.
   */
  double computeSecondsPerStep(int batch) {
    return computeSeconds.computeIfAbsent(batch, this::timeFit);
  }

  private double timeFit(int batch) {
    Nd4jRuntime.configureThreads(1);
    MultiLayerNetwork net = new MultiLayerNetwork(data.networkConfiguration(config));
    net.init();
    DataSet ds = data.trainBatches(batch, net.params().dataType(), null).get(0);
    for (int i = 0; i < 5; i++) {
      net.fit(ds);
    }
    long t0 = System.nanoTime();
    for (int i = 0; i < COMPUTE_STEPS; i++) {
      net.fit(ds);
    }
    return (System.nanoTime() - t0) / 1e9 / COMPUTE_STEPS;
  }
}
