package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.ConfigException;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.PresetConfig;
import io.spindle.config.WeightInit;
import io.spindle.runtime.Nd4jRuntime;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The residual-network presets have the published parameter counts and shapes; option-A shortcuts,
 * zero-initialised batch-norm scales and the oneDNN kernels do what they promise in a graph.
 */
class GraphFactoryTest {
  private static ModelConfig preset(PresetConfig p, Precision precision) {
    return new ModelConfig(null, WeightInit.HE_NORMAL, 0.0, 0.0, precision, null, 0.0, p, null);
  }

  /** Parameters trained by gradient: all but batch norm's running mean and variance. */
  static long trainable(ComputationGraph net) {
    long n = 0;
    for (Layer l : net.getLayers()) {
      for (Map.Entry<String, INDArray> e : l.paramTable().entrySet()) {
        if (l.updaterDivideByMinibatch(e.getKey())) {
          n += e.getValue().length();
        }
      }
    }
    return n;
  }

  /**
   * CIFAR: He et al. 2016 table 6 (0.27M, 0.46M, 0.85M; exact counts as in common PyTorch
   * reproductions with option A); ImageNet: torchvision's resnet18 and resnet50 (option B).
   */
  @ParameterizedTest
  @CsvSource({
    "resnet20, 3072, 269722",
    "resnet32, 3072, 464154",
    "resnet56, 3072, 853018",
    "resnet18, 12288, 11689512",
    "resnet50, 12288, 25557032"
  })
  void presetsHaveThePublishedParameterCounts(String name, int features, long params) {
    ComputationGraph net =
        GraphFactory.createStock(preset(PresetConfig.of(name), Precision.FLOAT32), features, 1);
    assertEquals(params, trainable(net), name);
  }

  @Test
  void resnet20ClassifiesCifarShapedInputAndWidthAndClassesAreOptions() {
    ModelConfig m = preset(new PresetConfig("resnet20", 32, 100, "b", false), Precision.FLOAT32);
    ComputationGraph net = GraphFactory.create(m, 3072, 7);
    INDArray out = net.outputSingle(Nd4j.rand(DataType.FLOAT, 2, 3072));
    assertArrayEquals(new long[] {2, 100}, out.shape());
    assertEquals(2.0, out.sumNumber().doubleValue(), 1e-5, "softmax rows sum to 1");
    // width 32: the last stage has 128 filters
    assertEquals(128, net.getLayer("s3b3_conv2").getParam("W").size(0));
    // option B: a projection where the shape changes, nowhere else
    assertTrue(net.getConfiguration().getVertices().containsKey("s2b1_proj"));
    assertTrue(!net.getConfiguration().getVertices().containsKey("s1b1_proj"));
  }

  @Test
  void resnet18RunsOnSmallImageNetShapedInput() {
    ComputationGraph net =
        GraphFactory.create(preset(PresetConfig.of("resnet18"), Precision.FLOAT32), 12288, 3);
    assertArrayEquals(
        new long[] {2, 1000}, net.outputSingle(Nd4j.rand(DataType.FLOAT, 2, 12288)).shape());
  }

  @Test
  void optionAShortcutKeepsEveryOtherPixelAndPadsZeroChannels() {
    ModelConfig m = preset(new PresetConfig("resnet20", 4, 10, "a", false), Precision.FLOAT64);
    ComputationGraph net = GraphFactory.createStock(m, 3 * 32 * 32, 5);
    INDArray x = Nd4j.rand(DataType.DOUBLE, 2, 3 * 32 * 32);
    Map<String, INDArray> acts = net.feedForward(x, false);
    INDArray in = acts.get("s1b3_out"); // 2 x 4 x 32 x 32
    INDArray sc = acts.get("s2b1_short"); // 2 x 8 x 16 x 16
    assertArrayEquals(new long[] {2, 8, 16, 16}, sc.shape());
    for (int b = 0; b < 2; b++) {
      for (int c = 0; c < 8; c++) {
        for (int i = 0; i < 16; i++) {
          for (int j = 0; j < 16; j++) {
            double expected = c < 4 ? in.getDouble(b, c, 2 * i, 2 * j) : 0.0;
            assertEquals(expected, sc.getDouble(b, c, i, j), 0.0, "b" + b + " c" + c);
          }
        }
      }
    }
  }

  @Test
  void zeroGammaMakesEveryBlockStartAsItsShortcut() {
    ModelConfig m = preset(new PresetConfig("resnet20", 8, 10, "b", true), Precision.FLOAT64);
    ComputationGraph net = GraphFactory.createStock(m, 3072, 11);
    assertEquals(0.0, net.getLayer("s1b1_bn2").getParam("gamma").amaxNumber().doubleValue());
    assertEquals(1.0, net.getLayer("s1b1_bn1").getParam("gamma").minNumber().doubleValue());
    Map<String, INDArray> acts = net.feedForward(Nd4j.rand(DataType.DOUBLE, 2, 3072), false);
    // (DL4J applies an activation layer in place when predicting, so "_add" holds the block output)
    assertEquals(acts.get("stem_relu"), acts.get("s1b1_out"), "identity shortcut, zero branch");
    assertEquals(
        Transforms.relu(acts.get("s2b1_proj_bn"), true),
        acts.get("s2b1_out"),
        "projection, zero branch");
  }

  @Test
  void graphLayersRunOnOneDnnAndComputeDl4jsGradients() {
    ModelConfig m = preset(new PresetConfig("resnet20", 4, 10, "a", false), Precision.FLOAT32);
    ComputationGraph stock = GraphFactory.createStock(m, 3 * 16 * 16, 3);
    ComputationGraph fast = GraphFactory.create(m, 3 * 16 * 16, 3);
    long expected =
        Nd4jRuntime.hasOneDnn()
            ? java.util.Arrays.stream(fast.getLayers())
                .filter(
                    l ->
                        l instanceof org.deeplearning4j.nn.layers.convolution.ConvolutionLayer
                            || l
                                instanceof
                                org.deeplearning4j.nn.layers.convolution.subsampling
                                    .SubsamplingLayer
                            || l
                                instanceof
                                org.deeplearning4j.nn.layers.normalization.BatchNormalization)
                .count()
            : 0;
    assertTrue(!Nd4jRuntime.hasOneDnn() || expected >= 40, "conv, pool and bn layers: " + expected);
    assertEquals(expected, count(fast), "graph layers on oneDNN");
    assertEquals(0, count(stock));
    Nd4j.getRandom().setSeed(40);
    INDArray x = Nd4j.rand(DataType.FLOAT, 8, 3 * 16 * 16);
    INDArray y = Nd4j.zeros(DataType.FLOAT, 8, 10);
    for (int i = 0; i < 8; i++) {
      y.putScalar(i, (i * 3) % 10, 1.0);
    }
    double s1 = score(stock, x, y);
    double s2 = score(fast, x, y);
    assertEquals(s1, s2, 1e-5 * Math.abs(s1), "loss");
    INDArray g1 = stock.getFlattenedGradients().castTo(DataType.DOUBLE);
    INDArray g2 = fast.getFlattenedGradients().castTo(DataType.DOUBLE);
    double scale = g1.amaxNumber().doubleValue();
    assertTrue(scale > 0);
    double diff = g1.sub(g2).amaxNumber().doubleValue();
    assertTrue(diff <= 1e-4 * scale, "gradients differ by " + diff + " (largest " + scale + ")");
  }

  @Test
  void activationReusingDenseLayersGiveDl4jsGradientsInAGraph() {
    List<LayerConfig> layers =
        List.of(
            LayerConfig.dense(16, Activation.RELU).named("d1"),
            LayerConfig.dense(16, Activation.RELU).named("d2", "input"),
            LayerConfig.merge(LayerType.ADD, "sum", "d1", "d2"),
            LayerConfig.dense(8, Activation.RELU).named("d3"),
            LayerConfig.output(4, Activation.SOFTMAX, Loss.CROSS_ENTROPY).named("fc"));
    ModelConfig m =
        new ModelConfig(
            layers, WeightInit.HE_NORMAL, 0, 0, Precision.FLOAT32, InputConfig.flat(), 0);
    ComputationGraph stock = GraphFactory.createStock(m, 12, 9);
    ComputationGraph fast = GraphFactory.create(m, 12, 9);
    assertEquals(
        3,
        java.util.Arrays.stream(fast.getLayers())
            .filter(l -> l instanceof ActivationReusingDenseLayer)
            .count());
    INDArray x = Nd4j.rand(DataType.FLOAT, 6, 12);
    INDArray y = Nd4j.zeros(DataType.FLOAT, 6, 4);
    for (int i = 0; i < 6; i++) {
      y.putScalar(i, i % 4, 1.0);
    }
    for (int step = 0; step < 2; step++) {
      assertEquals(score(stock, x, y), score(fast, x, y), 0.0);
      assertEquals(stock.getFlattenedGradients(), fast.getFlattenedGradients(), "bit for bit");
      for (ComputationGraph g : List.of(stock, fast)) {
        g.params().subi(stock.getFlattenedGradients().reshape(g.params().shape()).mul(0.1));
      }
    }
  }

  @Test
  void savedGraphLoadsInPlainDl4jAndPredictsTheSame(@TempDir java.nio.file.Path tmp)
      throws Exception {
    ModelConfig m = preset(new PresetConfig("resnet20", 4, 10, "a", true), Precision.FLOAT32);
    List<LayerConfig> smoothed = new java.util.ArrayList<>(m.layers());
    int last = smoothed.size() - 1;
    smoothed.set(last, smoothed.get(last).withLabelSmoothing(0.1));
    ModelConfig withSmoothing =
        new ModelConfig(smoothed, m.weightInit(), 0, 0, m.precision(), null, 0);
    ComputationGraph net = GraphFactory.create(withSmoothing, 3 * 16 * 16, 4);
    assertTrue(net.getOutputLayer(0).conf().getLayer().toString().contains("LabelSmoothing"));
    java.io.File file = tmp.resolve("model.zip").toFile();
    ModelSerializer.writeModel(net, file, false);
    assertTrue(!net.getConfiguration().toJson().contains("LabelSmoothing"), "stock loss saved");
    ComputationGraph loaded = ModelSerializer.restoreComputationGraph(file, false);
    INDArray x = Nd4j.rand(DataType.FLOAT, 3, 3 * 16 * 16);
    assertEquals(net.outputSingle(x), loaded.outputSingle(x));
  }

  @Test
  void shapeErrorsNameTheLayer() {
    List<LayerConfig> layers =
        List.of(
            LayerConfig.conv2d(4, 3, 1, 1, Activation.RELU).named("a"),
            LayerConfig.conv2d(4, 3, 2, 1, Activation.RELU).named("b"),
            LayerConfig.merge(LayerType.ADD, "sum", "a", "b"),
            LayerConfig.of(LayerType.GLOBAL_AVG_POOL),
            LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY));
    ModelConfig m =
        new ModelConfig(
            layers, WeightInit.HE_NORMAL, 0, 0, Precision.FLOAT32, InputConfig.image(8, 8, 1), 0);
    String e =
        assertThrows(ConfigException.class, () -> GraphFactory.configuration(m, 64, 1))
            .getMessage();
    assertTrue(
        e.contains("model.layers[2] (add 'sum')")
            && e.contains("image 4x8x8 (CxHxW)")
            && e.contains("image 4x4x4 (CxHxW)"),
        e);
    List<LayerConfig> odd =
        List.of(
            LayerConfig.conv2d(3, 3, 1, 1, Activation.RELU).named("a"),
            LayerConfig.shortcut(4, 2).named("s"),
            LayerConfig.of(LayerType.GLOBAL_AVG_POOL),
            LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY));
    ModelConfig m2 =
        new ModelConfig(
            odd, WeightInit.HE_NORMAL, 0, 0, Precision.FLOAT32, InputConfig.image(8, 8, 1), 0);
    String e2 =
        assertThrows(ConfigException.class, () -> GraphFactory.configuration(m2, 64, 1))
            .getMessage();
    assertTrue(e2.contains("shortcut 's'") && e2.contains("multiple of the input's 3"), e2);
    assertTrue(
        assertThrows(ConfigException.class, () -> ModelFactory.configuration(m2, 64, 1))
            .getMessage()
            .contains("ComputationGraph"));
  }

  private static int count(ComputationGraph net) {
    int n = 0;
    for (Layer l : net.getLayers()) {
      n += OneDnnKernels.installed(l) ? 1 : 0;
    }
    return n;
  }

  private static double score(ComputationGraph net, INDArray x, INDArray y) {
    net.setInputs(x.dup());
    net.setLabels(y);
    net.computeGradientAndScore();
    return net.score();
  }
}
