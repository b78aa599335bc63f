package io.spindle.bench;

import io.spindle.config.SpindleConfig;
import io.spindle.runtime.Nd4jRuntime;
import java.util.HashMap;
import java.util.Map;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Reference figures measured in the same run as the systems: ND4J's fp32 matrix-multiply peak with
 * 1 and 2 threads (best of a few {@code n x n} products), and the pure compute time of one training
 * step (DL4J {@code fit()} on one thread, the batch a worker gets), from which the non-compute time
 * of systems without their own compute counter is derived.
 */
final class Calibration {
  static final int REPEATS = 10;
  static final int COMPUTE_STEPS = 20;

  final int matmulSize;
  final double peak1;
  final double peak2;

  /** PyTorch's fp32 matmul peak at the same size with 1 and 2 threads; 0 without PyTorch. */
  final double torchPeak1;

  final double torchPeak2;

  private final SpindleConfig config;
  private final BenchData data;
  private final Map<Integer, Double> computeSeconds = new HashMap<>();

  private Calibration(int matmulSize, SpindleConfig config, BenchData data, TorchPeer torch) {
    this.matmulSize = matmulSize;
    this.config = config;
    this.data = data;
    this.peak1 = matmulPeak(matmulSize, 1);
    this.peak2 = matmulPeak(matmulSize, 2);
    this.torchPeak1 = torch == null ? 0 : torch.peakFlops(matmulSize, 1, "float32");
    this.torchPeak2 = torch == null ? 0 : torch.peakFlops(matmulSize, 2, "float32");
  }

  /** Measures the peaks (PyTorch's too when {@code torch} is not null). */
  static Calibration measure(
      int matmulSize, SpindleConfig config, BenchData data, TorchPeer torch) {
    return new Calibration(matmulSize, config, data, torch);
  }

  /** The matmul peak for a system using this many cores (1 or more: 2-thread peak). */
  double peakFor(int cores) {
    return cores <= 1 ? peak1 : peak2;
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
