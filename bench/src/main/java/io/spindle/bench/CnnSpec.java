package io.spindle.bench;

import io.spindle.config.Activation;
import io.spindle.config.ConfigException;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.data.MiniBatch;
import io.spindle.model.StepKey;
import io.spindle.optim.GlobalStep;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.worker.ModelSpec;
import io.spindle.worker.TrainableNetwork;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The convolutional network data-bench times on CIFAR-sized input (3x32x32, 10 classes), written as
 * comma-separated layers: {@code conv<K>x<K>x<C>} (K x K kernel, K odd, C filters, stride 1, "same"
 * padding (K - 1) / 2, ReLU), {@code pool<S>} (S x S max pooling, stride S), {@code dense<N>}
 * (ReLU), then a softmax output of 10 classes. Default: {@value #DEFAULT}. It is a Spindle model
 * ({@link #model()}, built by {@code ModelFactory} like any config's), timed through Spindle's own
 * training step: forward and backward on one worker, then the global step (Adam).
 *
 * @param layers the layer tokens in order
 * @param batch mini-batch size of one step
 */
public record CnnSpec(List<String> layers, int batch) {
  public static final String DEFAULT = "conv3x3x32,conv3x3x32,pool2,conv3x3x64,pool2,dense256";

  public CnnSpec {
    layers = List.copyOf(layers);
    if (batch <= 0) {
      throw new ConfigException("data-bench: --cnn-batch must be > 0, got " + batch);
    }
    if (layers.isEmpty()) {
      throw new ConfigException("data-bench: --cnn needs at least one layer");
    }
    for (String t : layers) {
      layer(t);
    }
  }

  /** Parses {@code --cnn}: comma-separated layer tokens (see the class comment). */
  public static CnnSpec parse(String text, int batch) {
    List<String> tokens = new ArrayList<>();
    for (String t : text.split(",")) {
      if (!t.isBlank()) {
        tokens.add(t.trim().toLowerCase(Locale.ROOT));
      }
    }
    return new CnnSpec(tokens, batch);
  }

  /** The Spindle layer of one token. */
  private static LayerConfig layer(String token) {
    try {
      if (token.startsWith("conv")) {
        String[] p = token.substring(4).split("x");
        if (p.length == 3 && p[0].equals(p[1])) {
          int k = positive(token, Integer.parseInt(p[0]));
          int filters = positive(token, Integer.parseInt(p[2]));
          if (k % 2 == 1) {
            return LayerConfig.conv2d(filters, k, 1, (k - 1) / 2, Activation.RELU);
          }
        }
      } else if (token.startsWith("pool")) {
        int s = positive(token, Integer.parseInt(token.substring(4)));
        return LayerConfig.pool(LayerType.MAX_POOL, s, s, 0);
      } else if (token.startsWith("dense")) {
        return LayerConfig.dense(
            positive(token, Integer.parseInt(token.substring(5))), Activation.RELU);
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new ConfigException(
        "data-bench: --cnn layer '"
            + token
            + "' is not one of conv<K>x<K>x<C> (K odd), pool<S>, dense<N> (e.g. "
            + DEFAULT
            + ")");
  }

  private static int positive(String token, int value) {
    if (value <= 0) {
      throw new ConfigException("data-bench: --cnn layer '" + token + "' needs sizes > 0");
    }
    return value;
  }

  /** The model: the layers, then a 10-class softmax output; He initialisation, float32. */
  public ModelConfig model() {
    List<LayerConfig> all = new ArrayList<>();
    for (String t : layers) {
      all.add(layer(t));
    }
    all.add(LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY));
    return new ModelConfig(
        all, WeightInit.HE_NORMAL, 0, 0, Precision.FLOAT32, InputConfig.image(32, 32, 3), 0);
  }

  /**
   * Samples/s of Spindle's training step (forward, backward, global step with Adam 0.001) on one
   * worker with {@code threads} ND4J threads, on random 3x32x32 batches: 2 warm-up steps, then
   * {@code steps} timed ones.
   */
  public double stepRate(int threads, int steps) {
    ModelSpec spec =
        new ModelSpec(model(), OptimizerConfig.of(OptimizerType.ADAM, 1e-3), 3072, 10, 42, threads);
    Nd4jRuntime.configureThreads(threads);
    TrainableNetwork net = spec.newNetwork();
    GlobalStep update = GlobalStep.create(spec.optimizer(), net.rules());
    SplittableRandom random = new SplittableRandom(7);
    float[] pixels = new float[batch * 3072];
    int[] labels = new int[batch];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (float) random.nextDouble();
    }
    for (int i = 0; i < batch; i++) {
      labels[i] = i % 10;
    }
    MiniBatch b = new MiniBatch(0, batch, 3072, pixels, labels, null, new int[] {3, 32, 32});
    long t0 = 0;
    for (int i = 0; i < steps + 2; i++) {
      if (i == 2) {
        t0 = System.nanoTime();
      }
      net.computeGradient(b, new StepKey(42, i, 0));
      update.apply(net.params(), net.gradient(), batch, i);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    return (double) steps * batch / seconds;
  }

  @Override
  public String toString() {
    return String.join(",", layers) + ",output10 (batch " + batch + ")";
  }
}
