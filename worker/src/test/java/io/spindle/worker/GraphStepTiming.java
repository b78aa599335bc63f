package io.spindle.worker;

import io.spindle.config.InputConfig;
import io.spindle.config.Kernels;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.PresetConfig;
import io.spindle.config.WeightInit;
import io.spindle.data.MiniBatch;
import io.spindle.model.StepKey;
import java.util.Random;

/**
 * One worker's training step (forward and backward, {@code computeGradient}; no optimiser) of a
 * ResNet-20 preset on one thread, on DL4J's layers or the fast kernels: the "before" and "after" of
 * docs/residual-networks.md, "Fast kernels for graph models". Not a test (no assertions, timed): a
 * main for the machine's idle measurement. Arguments: {@code kernels batch steps side channels
 * width}, for example {@code dl4j 64 10 28 1 24} (the Fashion-MNIST config's network) and {@code
 * auto 64 10 32 3 16} (CIFAR's ResNet-20). A seventh argument {@code nodes} (fast kernels only)
 * also prints each graph vertex's forward and backward milliseconds per step, by the vertex's index
 * in the config's graph. Run with {@code OMP_NUM_THREADS=1}; the classpath as in the document.
 */
public final class GraphStepTiming {
  private GraphStepTiming() {}

  public static void main(String[] args) {
    if (args.length != 6 && !(args.length == 7 && args[6].equals("nodes"))) {
      throw new IllegalArgumentException(
          "usage: GraphStepTiming kernels batch steps side channels width [nodes], got "
              + args.length
              + " arguments");
    }
    Kernels kernels = Kernels.valueOf(args[0].toUpperCase(java.util.Locale.ROOT));
    int batch = Integer.parseInt(args[1]);
    int steps = Integer.parseInt(args[2]);
    int side = Integer.parseInt(args[3]);
    int channels = Integer.parseInt(args[4]);
    int width = Integer.parseInt(args[5]);
    InputConfig in = InputConfig.image(side, side, channels);
    ModelConfig model =
        new ModelConfig(
            null,
            WeightInit.HE_NORMAL,
            0.0,
            5e-4,
            Precision.FLOAT32,
            in,
            0.0,
            new PresetConfig("resnet20", width, 10, "a", false, 0.1),
            kernels);
    int features = side * side * channels;
    ModelSpec spec =
        new ModelSpec(model, OptimizerConfig.of(OptimizerType.NESTEROV, 0.1), features, 10, 42, 1);
    TrainableNetwork net = spec.newNetwork();
    Random r = new Random(1);
    float[] x = new float[batch * features];
    int[] y = new int[batch];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    for (int i = 0; i < batch; i++) {
      y[i] = r.nextInt(10);
    }
    MiniBatch b = new MiniBatch(0, batch, features, x, y, null, new int[] {channels, side, side});
    for (int s = 0; s < 3; s++) {
      net.computeGradient(b, new StepKey(42, s, 0)); // warm-up
    }
    long[] nanos = args.length == 7 ? new long[8192] : null;
    if (nanos != null) {
      ((FastReplica) net).recordTimes(nanos);
    }
    long t0 = System.nanoTime();
    for (int s = 0; s < steps; s++) {
      net.computeGradient(b, new StepKey(42, s, 0));
    }
    double seconds = (System.nanoTime() - t0) / 1e9 / steps;
    System.out.printf(
        "%s (%s) batch %d, %dx%dx%d, width %d: %.3f s/step, %.1f samples/s%n",
        kernels.configName(),
        net.getClass().getSimpleName(),
        batch,
        channels,
        side,
        side,
        width,
        seconds,
        batch / seconds);
    for (int i = 0; nanos != null && i < nanos.length / 2; i++) {
      if (nanos[2 * i] + nanos[2 * i + 1] > 0) {
        System.out.printf(
            "vertex %d: forward %.2f ms, backward %.2f ms%n",
            i, nanos[2 * i] / 1e6 / steps, nanos[2 * i + 1] / 1e6 / steps);
      }
    }
  }
}
