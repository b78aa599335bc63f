package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Label smoothing: the loss is the cross-entropy against {@code (1 - e) y + e / K}, computed by
 * hand here from the network's own softmax outputs; the saved configuration keeps DL4J's loss.
 */
class LabelSmoothingTest {
  @Test
  void lossIsCrossEntropyAgainstSmoothedTargets() {
    double e = 0.2;
    int k = 4;
    ModelConfig m =
        new ModelConfig(
            List.of(
                LayerConfig.dense(5, Activation.TANH),
                LayerConfig.output(k, Activation.SOFTMAX, Loss.CROSS_ENTROPY)
                    .withLabelSmoothing(e)),
            WeightInit.XAVIER_NORMAL,
            0,
            0,
            Precision.FLOAT64,
            InputConfig.flat(),
            0);
    MultiLayerNetwork net = ModelFactory.create(m, 3, 5);
    INDArray x = Nd4j.rand(DataType.DOUBLE, 6, 3);
    INDArray y = Nd4j.zeros(DataType.DOUBLE, 6, k);
    for (int i = 0; i < 6; i++) {
      y.putScalar(i, i % k, 1.0);
    }
    INDArray p = net.output(x, false);
    double expected = 0;
    for (int i = 0; i < 6; i++) {
      for (int c = 0; c < k; c++) {
        double q = (1 - e) * y.getDouble(i, c) + e / k;
        expected -= q * Math.log(p.getDouble(i, c));
      }
    }
    expected /= 6;
    net.setInput(x);
    net.setLabels(y);
    net.computeGradientAndScore();
    assertEquals(expected, net.score(), 1e-12);
    assertTrue(
        !net.getLayerWiseConfigurations().toJson().contains("LabelSmoothing"),
        "the configuration ModelSerializer saves keeps DL4J's LossMCXENT");
    // the stock network (same configuration and parameters) scores the plain cross-entropy
    MultiLayerNetwork plain = ModelFactory.createStock(m, 3, 5);
    plain.setInput(x);
    plain.setLabels(y);
    plain.computeGradientAndScore();
    double crossEntropy = 0;
    for (int i = 0; i < 6; i++) {
      crossEntropy -= Math.log(p.getDouble(i, i % k)) / 6;
    }
    assertEquals(crossEntropy, plain.score(), 1e-12);
  }
}
