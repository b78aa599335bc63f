package io.spindle.driver.bench;

import io.spindle.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The convolutional network data-bench times on CIFAR-sized input (3x32x32, 10 classes), written as
 * comma-separated layers: {@code conv<K>x<K>x<C>} (K x K kernel, C filters, stride 1, same padding,
 * ReLU), {@code pool<S>} (S x S max pooling, stride S), {@code dense<N>} (ReLU), then a softmax
 * output of 10 classes. Default: {@value #DEFAULT}. Built in plain DL4J (Spindle's model config has
 * no convolution layer yet); once it has, the same shape can be given as a Spindle model.
 *
 * @param layers the layer tokens in order
 * @param batch mini-batch size of one fit() step
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
      parse(t);
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

  private static int[] parse(String token) {
    try {
      if (token.startsWith("conv")) {
        String[] p = token.substring(4).split("x");
        if (p.length == 3 && p[0].equals(p[1])) {
          return positive(token, Integer.parseInt(p[0]), Integer.parseInt(p[2]));
        }
      } else if (token.startsWith("pool")) {
        return positive(token, Integer.parseInt(token.substring(4)));
      } else if (token.startsWith("dense")) {
        return positive(token, Integer.parseInt(token.substring(5)));
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new ConfigException(
        "data-bench: --cnn layer '"
            + token
            + "' is not one of conv<K>x<K>x<C>, pool<S>, dense<N> (e.g. "
            + DEFAULT
            + ")");
  }

  private static int[] positive(String token, int... values) {
    for (int v : values) {
      if (v <= 0) {
        throw new ConfigException("data-bench: --cnn layer '" + token + "' needs sizes > 0");
      }
    }
    return values;
  }

  /** The DL4J network: the layers, then a 10-class softmax output; Adam, He initialisation. */
  public MultiLayerNetwork build(long seed) {
    var b =
        new NeuralNetConfiguration.Builder()
            .seed(seed)
            .dataType(DataType.FLOAT)
            .updater(new Adam(1e-3))
            .weightInit(WeightInit.RELU)
            .convolutionMode(ConvolutionMode.Same)
            .list();
    for (String t : layers) {
      int[] v = parse(t);
      if (t.startsWith("conv")) {
        b.layer(
            new ConvolutionLayer.Builder(v[0], v[0])
                .stride(1, 1)
                .nOut(v[1])
                .activation(Activation.RELU)
                .build());
      } else if (t.startsWith("pool")) {
        b.layer(
            new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                .kernelSize(v[0], v[0])
                .stride(v[0], v[0])
                .build());
      } else {
        b.layer(new DenseLayer.Builder().nOut(v[0]).activation(Activation.RELU).build());
      }
    }
    b.layer(
        new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
            .nOut(10)
            .activation(Activation.SOFTMAX)
            .build());
    MultiLayerConfiguration conf = b.setInputType(InputType.convolutional(32, 32, 3)).build();
    MultiLayerNetwork net = new MultiLayerNetwork(conf);
    net.init();
    return net;
  }

  /**
   * Samples/s of {@code fit()} on random 3x32x32 batches with {@code threads} ND4J threads: 2
   * warm-up steps, then {@code steps} timed ones.
   */
  public double fitRate(int threads, int steps) {
    io.spindle.runtime.Nd4jRuntime.configureThreads(threads);
    MultiLayerNetwork net = build(42);
    Nd4j.getRandom().setSeed(7);
    INDArray x = Nd4j.rand(DataType.FLOAT, batch, 3, 32, 32);
    INDArray y = Nd4j.zeros(DataType.FLOAT, batch, 10);
    for (int i = 0; i < batch; i++) {
      y.putScalar(i, i % 10, 1f);
    }
    DataSet d = new DataSet(x, y);
    for (int i = 0; i < 2; i++) {
      net.fit(d);
    }
    long t0 = System.nanoTime();
    for (int i = 0; i < steps; i++) {
      net.fit(d);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    return (double) steps * batch / seconds;
  }

  @Override
  public String toString() {
    return String.join(",", layers) + ",output10 (batch " + batch + ")";
  }
}
