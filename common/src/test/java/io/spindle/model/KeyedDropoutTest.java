package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.List;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Dropout masks keyed by (seed, step, example): independent of how a batch is split over workers,
 * never drawn from ND4J's process-wide generator, refused without a key, and invisible in a saved
 * model.
 */
class KeyedDropoutTest {
  static final int FEATURES = 40;
  static final double DROP = 0.3;

  /**
   * A dropout layer first, so the first activation is the masked input itself (the dense layer's
   * own dropout would mask that array again in place: it is checked in {@link
   * #theSavedModelKeepsDl4jsOwnDropout}).
   */
  static ModelConfig model(Precision precision) {
    return new ModelConfig(
        List.of(
            LayerConfig.dropoutLayer(DROP),
            LayerConfig.dense(6, Activation.TANH),
            new LayerConfig(LayerType.OUTPUT, 3, Activation.SOFTMAX, 0.5, Loss.CROSS_ENTROPY)),
        WeightInit.XAVIER_UNIFORM,
        0,
        0,
        precision);
  }

  static INDArray ones(DataType type, int rows) {
    return Nd4j.ones(type, rows, FEATURES);
  }

  /** The masked input (layer 0's output) for the rows of a share. */
  static INDArray masked(MultiLayerNetwork net, int rows, StepKey key) {
    KeyedDropout.key(net, key);
    return net.feedForward(ones(net.params().dataType(), rows), true).get(1).dup();
  }

  @ParameterizedTest
  @EnumSource(Precision.class)
  void anExamplesMaskDoesNotDependOnHowTheBatchIsSplit(Precision precision) {
    MultiLayerNetwork net = ModelFactory.create(model(precision), FEATURES, 1);
    INDArray whole = masked(net, 8, new StepKey(42, 5, 0));
    for (int split : new int[] {1, 3, 4}) {
      INDArray first = masked(net, split, new StepKey(42, 5, 0));
      INDArray rest = masked(net, 8 - split, new StepKey(42, 5, split));
      assertEquals(whole.get(NDArrayIndex.interval(0, split), NDArrayIndex.all()), first);
      assertEquals(whole.get(NDArrayIndex.interval(split, 8), NDArrayIndex.all()), rest);
    }
    assertTrue(!whole.equals(masked(net, 8, new StepKey(42, 6, 0))), "another step, other masks");
    assertTrue(!whole.equals(masked(net, 8, new StepKey(43, 5, 0))), "another seed, other masks");
    // kept inputs are scaled by 1/p, the rest are 0, and about p of them are kept
    double p = 1 - DROP;
    long kept = 0;
    for (double v : whole.castTo(DataType.DOUBLE).reshape(whole.length()).toDoubleVector()) {
      assertTrue(v == 0 || Math.abs(v - 1 / p) < 1e-6, "masked value " + v);
      kept += v == 0 ? 0 : 1;
    }
    // binomial(320, 0.7): sd 8.2; 5 sd either side
    assertTrue(Math.abs(kept - 0.7 * 320) < 41, "kept " + kept + " of 320");
  }

  /** A model of {@code kind} with dropout on its hidden layers' inputs, float64. */
  static ModelConfig withDropout(String kind) {
    LayerConfig out =
        new LayerConfig(LayerType.OUTPUT, 3, Activation.SOFTMAX, 0.3, Loss.CROSS_ENTROPY);
    List<LayerConfig> layers =
        switch (kind) {
          case "dense" ->
              List.of(new LayerConfig(LayerType.DENSE, 7, Activation.RELU, 0.4, null), out);
          case "lstm" ->
              List.of(
                  new LayerConfig(LayerType.LSTM, 5, Activation.TANH, 0.4, null),
                  LayerConfig.of(LayerType.LAST_TIME_STEP),
                  out);
          case "conv" ->
              List.of(
                  LayerConfig.conv2d(2, 3, 1, 1, Activation.RELU),
                  LayerConfig.dropoutLayer(0.4),
                  LayerConfig.pool(LayerType.MAX_POOL, 2, 2, 0),
                  out);
          default -> throw new IllegalArgumentException(kind);
        };
    return new ModelConfig(layers, WeightInit.XAVIER_UNIFORM, 0, 0, Precision.FLOAT64);
  }

  /**
   * The summed gradient of rows {@code [from, to)} of {@code x}, keyed as a share from {@code
   * from}.
   */
  static INDArray gradient(MultiLayerNetwork net, INDArray x, INDArray y, int from, int to) {
    KeyedDropout.key(net, new StepKey(9, 4, from));
    net.setInput(x.get(NDArrayIndex.interval(from, to), NDArrayIndex.all()).dup());
    net.setLabels(y.get(NDArrayIndex.interval(from, to), NDArrayIndex.all()).dup());
    net.computeGradientAndScore();
    return net.getFlattenedGradients().dup(); // summed over the rows (DL4J divides in its updater)
  }

  /**
   * For every layer kind with dropout (flat, sequence and image inputs), the gradient of a batch
   * split into two shares, each keyed from its first example, sums to the whole batch's gradient:
   * the workers of one global step draw exactly the masks one process draws.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"dense", "lstm", "conv"})
  void sharesOfABatchSumToTheWholeBatchsGradient(String kind) {
    int features = 36; // flat, 6 steps of 6, or a 6x6 image
    MultiLayerNetwork net = ModelFactory.create(withDropout(kind), features, 3);
    java.util.SplittableRandom r = new java.util.SplittableRandom(5);
    INDArray x = Nd4j.zeros(DataType.DOUBLE, 8, features);
    INDArray y = Nd4j.zeros(DataType.DOUBLE, 8, 3);
    for (int i = 0; i < 8; i++) {
      for (int j = 0; j < features; j++) {
        x.putScalar(i, j, r.nextDouble() - 0.3);
      }
      y.putScalar(i, i % 3, 1.0);
    }
    INDArray whole = gradient(net, x, y, 0, 8);
    INDArray split = gradient(net, x, y, 0, 3).addi(gradient(net, x, y, 3, 8));
    assertTrue(whole.amaxNumber().doubleValue() > 0, "the gradient is not all zero");
    double diff = whole.sub(split).amaxNumber().doubleValue();
    assertTrue(diff < 1e-12, kind + ": split and whole gradients differ by " + diff);
    // and another key gives other masks, so the equality above is not trivial
    KeyedDropout.key(net, new StepKey(9, 5, 0));
    net.setInput(x.dup());
    net.setLabels(y.dup());
    net.computeGradientAndScore();
    INDArray other = net.getFlattenedGradients().dup();
    assertTrue(whole.sub(other).amaxNumber().doubleValue() > 1e-6, kind + ": masks of step 5");
  }

  @Test
  void masksAreNotDrawnFromNd4jsProcessWideGenerator() {
    MultiLayerNetwork net = ModelFactory.create(model(Precision.FLOAT32), FEATURES, 1);
    Nd4j.getRandom().setSeed(99);
    double expected = Nd4j.getRandom().nextDouble();
    Nd4j.getRandom().setSeed(99);
    INDArray a = masked(net, 8, new StepKey(1, 2, 0));
    assertEquals(expected, Nd4j.getRandom().nextDouble(), "the generator was drawn from");
    Nd4j.getRandom().setSeed(12345); // reseeding it changes nothing
    assertEquals(a, masked(net, 8, new StepKey(1, 2, 0)));
  }

  @Test
  void aTrainingForwardPassWithoutAKeyIsRefused() {
    MultiLayerNetwork net = ModelFactory.create(model(Precision.FLOAT32), FEATURES, 1);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class, () -> net.feedForward(ones(DataType.FLOAT, 2), true));
    assertTrue(e.getMessage().contains("no step key"), e.getMessage());
    // inference needs none
    assertEquals(2, net.output(ones(DataType.FLOAT, 2), false).rows());
  }

  @Test
  void theSavedModelKeepsDl4jsOwnDropout() throws Exception {
    MultiLayerNetwork net = ModelFactory.create(model(Precision.FLOAT32), FEATURES, 1);
    assertInstanceOf(KeyedDropout.class, net.getLayer(2).conf().getLayer().getIDropout());
    assertInstanceOf(
        Dropout.class, net.getLayerWiseConfigurations().getConf(2).getLayer().getIDropout());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ModelSerializer.writeModel(net, out, false);
    MultiLayerNetwork back =
        ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(out.toByteArray()));
    Dropout d = (Dropout) back.getLayer(2).conf().getLayer().getIDropout();
    assertEquals(0.5, d.getP(), 1e-12);
    assertEquals(net.params(), back.params());
  }
}
