package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.ModelConfig;
import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The matmul-op inference path gives DL4J's output to float32 rounding, and only where it may. */
class DenseInferenceTest {
  static ModelConfig model(String layers) {
    return ConfigLoader.parse("", "test", List.of("model.layers=" + layers)).model();
  }

  @Test
  void denseNetworksGiveDl4jsOutput() {
    for (String layers :
        List.of(
            "[{type: dense, units: 40, activation: relu, dropout: 0.3},"
                + " {type: dense, units: 20, activation: tanh},"
                + " {type: output, units: 7, activation: softmax, loss: cross_entropy}]",
            "[{type: dense, units: 16, activation: leaky_relu}, {type: dropout, dropout: 0.5},"
                + " {type: output, units: 1, activation: identity, loss: mse}]")) {
      MultiLayerNetwork net = ModelFactory.createStock(model(layers), 13, 9L);
      DenseInference dense = DenseInference.of(net);
      assertNotNull(dense, layers);
      for (int rows : new int[] {1, 5, 300, 5}) {
        INDArray x = Nd4j.rand(DataType.FLOAT, rows, 13).subi(0.5).muli(4);
        INDArray expected = net.output(x, false);
        INDArray got = dense.output(x);
        assertEquals(expected.rows(), got.rows());
        double diff = expected.sub(got).amaxNumber().doubleValue();
        assertTrue(diff < 1e-5, "max |difference| " + diff + " for " + layers);
      }
    }
  }

  @Test
  void otherNetworksKeepDl4jsPath() {
    MultiLayerNetwork cnn =
        ModelFactory.createStock(
            ConfigLoader.parse(
                    "",
                    "test",
                    List.of(
                        "model.input={type: image, height: 6, width: 6, channels: 1}",
                        "model.layers=[{type: conv2d, filters: 2, kernel: 3, activation: relu},"
                            + " {type: output, units: 3, activation: softmax, loss:"
                            + " cross_entropy}]"))
                .model(),
            36,
            1L);
    assertNull(DenseInference.of(cnn));
    MultiLayerNetwork float64 =
        ModelFactory.createStock(
            ConfigLoader.parse(
                    "",
                    "test",
                    List.of(
                        "model.precision=float64",
                        "model.layers=[{type: output, units: 2, activation: softmax, loss:"
                            + " cross_entropy}]"))
                .model(),
            4,
            1L);
    assertNull(DenseInference.of(float64));
  }
}
