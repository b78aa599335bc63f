package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.data.MiniBatch;
import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The frozen stack computes what the same layers compute inside a DL4J network. */
class EncoderStackTest {
  @Test
  void encodesLikeTheNetworksHiddenLayers() {
    ModelConfig model =
        new ModelConfig(
            List.of(
                LayerConfig.dense(5, Activation.SIGMOID),
                LayerConfig.dense(4, Activation.TANH),
                LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
            WeightInit.XAVIER_UNIFORM,
            0,
            0,
            Precision.FLOAT32);
    MultiLayerNetwork net = ModelFactory.create(model, 7, 3);
    net.getLayer(0).getParam("b").assign(Nd4j.linspace(-1, 1, 5).reshape(1, 5));
    EncoderStack stack =
        EncoderStack.empty()
            .plus(net.getLayer(0).getParam("W"), net.getLayer(0).getParam("b"), Activation.SIGMOID)
            .plus(net.getLayer(1).getParam("W"), net.getLayer(1).getParam("b"), Activation.TANH);
    INDArray x = Nd4j.rand(DataType.FLOAT, 6, 7);
    INDArray expected = net.feedForward(x, false).get(2);
    assertEquals(2, stack.depth());
    assertArrayEquals(
        expected.dup('c').data().asFloat(), stack.encode(x).dup('c').data().asFloat(), 1e-6f);

    MiniBatch batch =
        new MiniBatch(3, 6, 7, x.dup('c').data().asFloat(), new int[] {0, 1, 2, 0, 1, 2});
    MiniBatch encoded = stack.encode(batch);
    assertEquals(3, encoded.step());
    assertEquals(4, encoded.numFeatures());
    assertArrayEquals(batch.labels(), encoded.labels());
    assertArrayEquals(expected.dup('c').data().asFloat(), encoded.features(), 1e-6f);
    assertEquals(0, stack.encode(new MiniBatch(4, 0, 7, new float[0], new int[0])).size());
  }

  @Test
  void refusesLayersThatDoNotFit() {
    EncoderStack one =
        EncoderStack.empty().plus(Nd4j.zeros(7, 5), Nd4j.zeros(1, 5), Activation.RELU);
    assertThrows(
        IllegalArgumentException.class,
        () -> one.plus(Nd4j.zeros(4, 3), Nd4j.zeros(1, 3), Activation.RELU));
  }
}
