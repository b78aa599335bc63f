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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Central finite differences in double precision for graph models ({@link GraphFactory}): residual
 * blocks with an identity shortcut, a projection shortcut (option B) and a zero-padding shortcut
 * (option A), both merges ({@code add}, {@code concat}), a dense graph whose first layers are
 * Spindle's activation-reusing dense layers, and label smoothing. The analytic gradient is DL4J's
 * summed gradient of the live graph (with Spindle's layer swaps) divided by the batch size; the
 * numeric one is the derivative of the mean loss. Batch norm's running statistics are no gradient
 * (updates DL4J marks with {@code updaterDivideByMinibatch == false}) and are skipped.
 */
class GraphGradientCheckTest {
  private static final double MIN_ABS_ERROR = 1e-8;
  private static final int BATCH = 4;
  private static final int CLASSES = 3;

  private static LayerConfig conv(String name, int filters, int kernel, int stride, String... in) {
    return LayerConfig.conv2d(filters, kernel, stride, kernel / 2, Activation.IDENTITY)
        .withoutBias()
        .named(name, in);
  }

  private static LayerConfig bn(String name, String... in) {
    return LayerConfig.of(LayerType.BATCH_NORM).named(name, in);
  }

  private static LayerConfig act(String name, Activation a, String... in) {
    return LayerConfig.activation(a).named(name, in);
  }

  /** stem conv, [block], tanh, global average pool, softmax output. */
  private static List<LayerConfig> around(List<LayerConfig> block, String last) {
    List<LayerConfig> out = new ArrayList<>();
    out.add(conv("stem", 2, 3, 1));
    out.add(act("stem_act", Activation.TANH));
    out.addAll(block);
    out.add(act("out", Activation.RELU, last));
    out.add(LayerConfig.of(LayerType.GLOBAL_AVG_POOL).named("pool"));
    out.add(LayerConfig.output(CLASSES, Activation.SOFTMAX, Loss.CROSS_ENTROPY).named("fc"));
    return out;
  }

  static Stream<Arguments> cases() {
    InputConfig image = InputConfig.image(6, 6, 2);
    return Stream.of(
        Arguments.of(
            "residual block, identity shortcut (add)",
            image,
            around(
                List.of(
                    conv("c1", 2, 3, 1),
                    bn("b1"),
                    act("r1", Activation.RELU),
                    conv("c2", 2, 3, 1),
                    bn("b2"),
                    LayerConfig.merge(LayerType.ADD, "sum", "b2", "stem_act")),
                "sum")),
        Arguments.of(
            "residual block, projection shortcut (1x1 conv stride 2 + batch norm)",
            image,
            around(
                List.of(
                    conv("c1", 4, 3, 2),
                    bn("b1"),
                    act("r1", Activation.RELU),
                    conv("c2", 4, 3, 1),
                    bn("b2"),
                    conv("proj", 4, 1, 2, "stem_act"),
                    bn("proj_bn"),
                    LayerConfig.merge(LayerType.ADD, "sum", "b2", "proj_bn")),
                "sum")),
        Arguments.of(
            "residual block, option A shortcut (stride 2, zero-padded channels)",
            image,
            around(
                List.of(
                    conv("c1", 4, 3, 2),
                    bn("b1"),
                    act("r1", Activation.TANH),
                    conv("c2", 4, 3, 1),
                    bn("b2"),
                    LayerConfig.shortcut(4, 2).named("short", "stem_act"),
                    LayerConfig.merge(LayerType.ADD, "sum", "b2", "short")),
                "sum")),
        Arguments.of(
            "concat of a 1x1 and a 3x3 branch (inception-style)",
            image,
            around(
                List.of(
                    conv("a", 2, 1, 1, "stem_act"),
                    conv("b", 3, 3, 1, "stem_act"),
                    LayerConfig.merge(LayerType.CONCAT, "cat", "a", "b"),
                    bn("cat_bn")),
                "cat_bn")),
        Arguments.of(
            "flat: add of two dense branches, concat, label smoothing 0.1",
            InputConfig.flat(),
            List.of(
                LayerConfig.dense(4, Activation.RELU).named("d1"),
                LayerConfig.dense(4, Activation.TANH).named("d2", "input"),
                LayerConfig.dense(4, Activation.IDENTITY).named("d3", "input"),
                LayerConfig.merge(LayerType.ADD, "sum", "d1", "d2"),
                LayerConfig.merge(LayerType.CONCAT, "cat", "sum", "d3"),
                LayerConfig.output(CLASSES, Activation.SOFTMAX, Loss.CROSS_ENTROPY)
                    .withLabelSmoothing(0.1)
                    .named("fc"))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void analyticGradientMatchesCentralDifferences(
      String name, InputConfig input, List<LayerConfig> layers) {
    ModelConfig model =
        new ModelConfig(layers, WeightInit.XAVIER_NORMAL, 0.0, 0.0, Precision.FLOAT64, input, 0.0);
    int numInputs = input.type() == io.spindle.config.InputKind.FLAT ? 5 : (int) input.size();
    ComputationGraph net = GraphFactory.create(model, numInputs, 12345);
    Nd4j.getRandom().setSeed(99);
    INDArray x = Nd4j.rand(DataType.DOUBLE, BATCH, numInputs).subi(0.5).muli(2);
    INDArray y = Nd4j.zeros(DataType.DOUBLE, BATCH, CLASSES);
    for (int i = 0; i < BATCH; i++) {
      y.putScalar(i, i % CLASSES, 1.0);
    }
    boolean[] raw = rawUpdates(net);
    INDArray w = net.params();
    score(net, x, y);
    INDArray analytic = net.getFlattenedGradients().dup().divi(BATCH);
    CentralDifferences.Result result =
        CentralDifferences.check(
            name, w, analytic, i -> raw[(int) i], () -> score(net, x, y), MIN_ABS_ERROR);
    long rawCount = 0;
    for (boolean b : raw) {
      rawCount += b ? 1 : 0;
    }
    long checked = result.checked();
    long nonZero = result.nonZero();
    assertEquals(w.length() - rawCount, checked);
    assertTrue(checked > 0, name);
    // a check that sees only zero derivatives proves nothing
    assertTrue(nonZero > checked / 2, name + ": only " + nonZero + " of " + checked + " nonzero");
  }

  /** Entries of the flat vector that hold batch norm's running statistics. */
  static boolean[] rawUpdates(ComputationGraph net) {
    boolean[] raw = new boolean[(int) net.numParams()];
    for (Layer layer : net.getLayers()) {
      for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
        if (!layer.updaterDivideByMinibatch(e.getKey())) {
          long from = e.getValue().offset() - net.params().offset();
          for (long i = from; i < from + e.getValue().length(); i++) {
            raw[(int) i] = true;
          }
        }
      }
    }
    return raw;
  }

  private static double score(ComputationGraph net, INDArray x, INDArray y) {
    net.setInputs(x);
    net.setLabels(y);
    net.computeGradientAndScore();
    return net.score();
  }
}
