package io.spindle.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.compress.GradientLayout.Tensor;
import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.model.ModelFactory;
import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The layout names the network's matrices in the flat vector, row-major, as the codecs read them.
 */
class GradientLayoutTest {
  @Test
  void denseWeightsAreOutputsByInputsRowMajorAndBiasesVectors() {
    ModelConfig model =
        new ModelConfig(
            List.of(
                LayerConfig.dense(5, Activation.RELU),
                LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
            WeightInit.XAVIER_UNIFORM,
            0,
            0,
            Precision.FLOAT32);
    MultiLayerNetwork net = ModelFactory.create(model, 7, 3);
    GradientLayout layout = GradientLayout.of(net);
    assertEquals(List.of("0_W", "0_b", "1_W", "1_b"), names(layout));
    Tensor w0 = layout.tensors().get(0);
    assertEquals(5, w0.rows(), "rows = outputs");
    assertEquals(7, w0.cols(), "cols = inputs");
    assertFalse(layout.tensors().get(1).isMatrix());
    assertEquals(net.numParams(), layout.length());
    assertRowMajorViews(net, layout);
  }

  @Test
  void convolutionFiltersAreOutputChannelsByTheRest() {
    ModelConfig model =
        new ModelConfig(
            List.of(
                LayerConfig.conv2d(4, 3, 1, 1, Activation.RELU),
                LayerConfig.of(LayerType.BATCH_NORM),
                LayerConfig.dense(6, Activation.RELU),
                LayerConfig.output(2, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
            WeightInit.HE_NORMAL,
            0.0,
            0.0,
            Precision.FLOAT32,
            InputConfig.image(6, 6, 2),
            0.0);
    MultiLayerNetwork net = ModelFactory.create(model, 72, 3);
    GradientLayout layout = GradientLayout.of(net);
    // DL4J's convolution parameter table lists the bias first
    assertEquals(List.of("0_b", "0_W"), names(layout).subList(0, 2));
    Tensor conv = layout.tensors().get(1);
    assertEquals(4, conv.rows(), "rows = output channels");
    assertEquals(2 * 3 * 3, conv.cols(), "cols = input channels x kernel");
    long matrices = layout.tensors().stream().filter(Tensor::isMatrix).count();
    assertEquals(3, matrices, "conv filters, dense and output weights: " + layout);
    assertRowMajorViews(net, layout);
  }

  @Test
  void tensorsMustCoverTheVectorInOrder() {
    IllegalArgumentException gap =
        assertThrows(
            IllegalArgumentException.class,
            () -> GradientLayout.of(List.of(new Tensor("a", 0, 2, 3), new Tensor("b", 7, 1, 4))));
    assertTrue(gap.getMessage().contains("tensor b starts at 7, expected 6"), gap.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new Tensor("c", 0, 0, 3));
    GradientLayout a = GradientLayout.of(List.of(new Tensor("a", 0, 2, 3)));
    GradientLayout b = GradientLayout.of(List.of(new Tensor("a", 0, 3, 2)));
    assertNotEquals(a.fingerprint(), b.fingerprint(), "same length, other shape");
  }

  /**
   * Every parameter view's element (i0, i1, ...) sits in the flat vector where the layout's
   * row-major reading puts it: each flat entry is set to its own index, then read through DL4J's
   * views and through the layout.
   */
  private static void assertRowMajorViews(MultiLayerNetwork net, GradientLayout layout) {
    int n = (int) net.numParams();
    net.setParams(Nd4j.arange(n).castTo(DataType.FLOAT).reshape(1, n));
    int t = 0;
    for (Layer layer : net.getLayers()) {
      for (var e : layer.paramTable().entrySet()) {
        Tensor x = layout.tensors().get(t++);
        INDArray v = e.getValue();
        if (!x.isMatrix()) {
          assertEquals(x.offset(), v.getFloat(0), 0f, x.name());
          continue;
        }
        INDArray rows =
            v.ordering() == 'f'
                ? v.reshape('f', x.cols(), x.rows()).transpose()
                : v.reshape('c', x.rows(), x.cols());
        for (int r = 0; r < x.rows(); r++) {
          for (int c = 0; c < x.cols(); c++) {
            assertEquals(
                x.offset() + r * x.cols() + c,
                (int) rows.getFloat(r, c),
                x.name() + " (" + r + ", " + c + ")");
          }
        }
      }
    }
  }

  private static List<String> names(GradientLayout layout) {
    return layout.tensors().stream().map(Tensor::name).toList();
  }
}
