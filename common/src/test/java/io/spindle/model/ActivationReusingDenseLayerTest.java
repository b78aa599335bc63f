package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
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
import org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The activation-reusing dense layer computes DL4J's gradient bit for bit (with dropout, in float32
 * and float64), and a network built with it saves as a stock DL4J model.
 */
class ActivationReusingDenseLayerTest {

  private static ModelConfig model(Activation hidden, Precision precision) {
    return new ModelConfig(
        List.of(
            new LayerConfig(LayerType.DENSE, 16, hidden, 0.1, null),
            new LayerConfig(LayerType.DENSE, 12, hidden, 0.3, null),
            new LayerConfig(LayerType.OUTPUT, 4, Activation.SOFTMAX, 0.2, Loss.CROSS_ENTROPY)),
        WeightInit.HE_NORMAL,
        0.0,
        0.0,
        precision);
  }

  @ParameterizedTest
  @EnumSource(Precision.class)
  void reluGradientIsBitIdenticalToStockDl4j(Precision precision) {
    assertIdenticalGradients(model(Activation.RELU, precision), true);
  }

  @ParameterizedTest
  @EnumSource(
      value = Activation.class,
      names = {"IDENTITY", "TANH", "SIGMOID"})
  void otherActivationsGiveStockGradients(Activation hidden) {
    assertIdenticalGradients(model(hidden, Precision.FLOAT32), hidden == Activation.IDENTITY);
  }

  private static void assertIdenticalGradients(ModelConfig model, boolean expectReusing) {
    MultiLayerNetwork stock = ModelFactory.createStock(model, 10, 7);
    KeyedDropout.install(stock); // the same masks as the fast network's, from the same keys
    MultiLayerNetwork fast = ModelFactory.create(model, 10, 7);
    assertEquals(
        expectReusing,
        fast.getLayer(0) instanceof ActivationReusingDenseLayer,
        "layer 0 is " + fast.getLayer(0).getClass().getSimpleName());
    assertSame(DenseLayer.class, stock.getLayer(0).getClass());
    DataType type = ModelFactory.dataType(model.precision());
    for (int step = 0; step < 3; step++) {
      Nd4j.getRandom().setSeed(100 + step);
      INDArray x = Nd4j.rand(type, 8, 10).subi(0.5);
      INDArray y = Nd4j.zeros(type, 8, 4);
      for (int i = 0; i < 8; i++) {
        y.putScalar(i, (i + step) % 4, 1.0);
      }
      double[] g1 = gradient(stock, x, y, 1000 + step);
      double[] g2 = gradient(fast, x, y, 1000 + step);
      assertTrue(maxAbs(g1) > 0, "the gradient is not all zero");
      assertArrayEquals(g1, g2, 0.0, "step " + step);
      // the same update applied to both keeps them in lock step
      for (MultiLayerNetwork net : List.of(stock, fast)) {
        INDArray w = net.params();
        w.subi(net.getFlattenedGradients().reshape(w.shape()).mul(0.1));
      }
    }
  }

  private static double[] gradient(MultiLayerNetwork net, INDArray x, INDArray y, long seed) {
    KeyedDropout.key(net, new StepKey(seed, 0, 0)); // dropout masks
    net.setInput(x.dup());
    net.setLabels(y);
    net.computeGradientAndScore();
    return net.getFlattenedGradients().castTo(DataType.DOUBLE).toDoubleVector();
  }

  private static double maxAbs(double[] v) {
    double m = 0;
    for (double d : v) {
      m = Math.max(m, Math.abs(d));
    }
    return m;
  }

  @ParameterizedTest
  @EnumSource(
      value = Precision.class,
      names = {"FLOAT32"})
  void savesAsStockDl4jModel(Precision precision) throws Exception {
    MultiLayerNetwork fast = ModelFactory.create(model(Activation.RELU, precision), 10, 7);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ModelSerializer.writeModel(fast, out, false);
    MultiLayerNetwork back =
        ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(out.toByteArray()));
    assertSame(DenseLayer.class, back.getLayer(0).getClass());
    assertEquals(fast.params(), back.params());
    INDArray x = Nd4j.rand(DataType.FLOAT, 3, 10);
    assertEquals(fast.output(x, false), back.output(x, false));
  }
}
