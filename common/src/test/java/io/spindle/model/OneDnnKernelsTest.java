package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.runtime.Nd4jRuntime;
import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The build's native library is the one it packs, and a float32 CNN whose convolution, pooling and
 * batch-norm layers run on oneDNN computes what DL4J's own path computes: loss, every gradient
 * entry (batch-norm running statistics included) and inference outputs, to float32 rounding, over
 * several training steps.
 */
class OneDnnKernelsTest {
  private static final int BATCH = 16;

  private static ModelConfig cnn(Precision precision) {
    return new ModelConfig(
        List.of(
            LayerConfig.conv2d(8, 3, 1, 1, Activation.RELU),
            LayerConfig.of(LayerType.BATCH_NORM),
            LayerConfig.pool(LayerType.MAX_POOL, 2, 2, 0),
            LayerConfig.conv2d(12, 3, 1, 1, Activation.RELU),
            LayerConfig.of(LayerType.BATCH_NORM),
            LayerConfig.pool(LayerType.AVG_POOL, 2, 2, 0),
            LayerConfig.dense(16, Activation.RELU),
            LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
        WeightInit.HE_NORMAL,
        0.0,
        0.0,
        precision,
        InputConfig.image(12, 12, 1),
        0.0);
  }

  @Test
  void loadsTheNativeBuildItPacks() {
    String packed = Nd4jRuntime.packedExtension();
    assertEquals(
        packed,
        System.getProperty(Nd4jRuntime.PLATFORM_EXTENSION, ""),
        "the tests' JVM selects the packed build");
    assertEquals(
        packed.contains("onednn"),
        Nd4jRuntime.hasOneDnn(),
        "packed build '" + packed + "' against the loaded library's build information");
  }

  @Test
  void oneDnnLayersComputeDl4jsGradients() {
    MultiLayerNetwork stock = ModelFactory.createStock(cnn(Precision.FLOAT32), 144, 3);
    MultiLayerNetwork fast = ModelFactory.create(cnn(Precision.FLOAT32), 144, 3);
    int expected = Nd4jRuntime.hasOneDnn() ? 6 : 0;
    assertEquals(expected, count(fast), "layers on oneDNN");
    assertEquals(0, count(stock), "stock DL4J layers");
    for (int step = 0; step < 4; step++) {
      Nd4j.getRandom().setSeed(40 + step);
      INDArray x = Nd4j.rand(DataType.FLOAT, BATCH, 144);
      INDArray y = Nd4j.zeros(DataType.FLOAT, BATCH, 10);
      for (int i = 0; i < BATCH; i++) {
        y.putScalar(i, (i * 3 + step) % 10, 1.0);
      }
      double s1 = score(stock, x, y);
      double s2 = score(fast, x, y);
      assertEquals(s1, s2, 1e-5 * Math.abs(s1), "loss at step " + step);
      INDArray g1 = stock.getFlattenedGradients().castTo(DataType.DOUBLE);
      INDArray g2 = fast.getFlattenedGradients().castTo(DataType.DOUBLE);
      double scale = g1.amaxNumber().doubleValue();
      assertTrue(scale > 0, "the gradient is not all zero");
      double diff = g1.sub(g2).amaxNumber().doubleValue();
      assertTrue(
          diff <= 1e-4 * scale,
          "step " + step + ": gradients differ by " + diff + " (largest entry " + scale + ")");
      // one SGD step on both, from the stock gradient, keeps the parameters identical
      for (MultiLayerNetwork net : List.of(stock, fast)) {
        net.params().subi(stock.getFlattenedGradients().reshape(net.params().shape()).mul(0.05));
      }
    }
    INDArray x = Nd4j.rand(DataType.FLOAT, BATCH, 144);
    double diff = stock.output(x, false).sub(fast.output(x, false)).amaxNumber().doubleValue();
    assertTrue(diff <= 1e-5, "inference outputs differ by " + diff);
  }

  @Test
  void doublePrecisionKeepsDl4jsPath() {
    assertEquals(0, count(ModelFactory.create(cnn(Precision.FLOAT64), 144, 3)));
  }

  private static int count(MultiLayerNetwork net) {
    int n = 0;
    for (Layer l : net.getLayers()) {
      n += OneDnnKernels.installed(l) ? 1 : 0;
    }
    return n;
  }

  private static double score(MultiLayerNetwork net, INDArray x, INDArray y) {
    net.setInput(x.dup());
    net.setLabels(y);
    net.computeGradientAndScore();
    return net.score();
  }
}
