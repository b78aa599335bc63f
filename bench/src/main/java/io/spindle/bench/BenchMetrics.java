package io.spindle.bench;

import io.spindle.config.ModelConfig;
import java.util.List;

/**
 * The analytic figures of the benchmark: model FLOPs, the all-reduce traffic bound and time to a
 * target accuracy. Pure functions, so the formulas are tested on their own.
 */
public final class BenchMetrics {
  /** The FLOP formula bench.json states next to every FLOP figure. */
  public static final String FLOPS_FORMULA =
      "6 x multiply-adds per example of the dense and convolution layers (forward 2, backward 4:"
          + " input and weight gradients); biases, activations, pooling, batch norm, dropout and"
          + " the optimiser are not counted";

  private BenchMetrics() {}

  /**
   * Multiply-adds of one example's forward pass: fan-in x fan-out of each dense layer, and kernel
   * area x input channels x filters x output pixels of each convolution ({@link LayerShapes}).
   */
  public static long multiplyAddsPerExample(int numInputs, ModelConfig model) {
    return LayerShapes.multiplyAdds(model, numInputs);
  }

  /** FLOPs of one example's forward and backward pass: {@value #FLOPS_FORMULA}. */
  public static double flopsPerExample(int numInputs, ModelConfig model) {
    return 6.0 * multiplyAddsPerExample(numInputs, model);
  }

  /**
   * Bytes each worker must send per step in a bandwidth-optimal all-reduce of {@code modelBytes}:
   * {@code 2 (N - 1) / N x modelBytes} (reduce-scatter, then all-gather); 0 for one worker.
   */
  public static double allreduceBoundBytes(int workers, double modelBytes) {
    if (workers < 1) {
      throw new IllegalArgumentException("workers must be >= 1, got " + workers);
    }
    return 2.0 * (workers - 1) / workers * modelBytes;
  }

  /** Test accuracy after an epoch, with the training seconds spent up to the end of that epoch. */
  public record EpochPoint(int epoch, double trainSeconds, double testAccuracy) {}

  /**
   * Training seconds until the end of the first epoch whose test accuracy is at least {@code
   * target}, or null if no epoch reached it. Points must be in epoch order with cumulative seconds.
   */
  public static Double timeToTarget(List<EpochPoint> points, double target) {
    double previous = 0;
    for (EpochPoint p : points) {
      if (p.trainSeconds() < previous) {
        throw new IllegalArgumentException(
            "epoch points must carry cumulative training seconds, got "
                + p.trainSeconds()
                + " s at epoch "
                + p.epoch()
                + " after "
                + previous
                + " s");
      }
      previous = p.trainSeconds();
      if (p.testAccuracy() >= target) {
        return p.trainSeconds();
      }
    }
    return null;
  }
}
