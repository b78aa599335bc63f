package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.compress.GradientLayout;
import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.optim.GlobalStep;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Biases that a batch norm cancels are found in stacks and graphs (and nothing else is), the global
 * step gives them their exact gradient, zero, in both its forms, and a graph's gradient layout
 * names the tensors at their offsets in the flat vector.
 */
class CancelledBiasesTest {
  private static ModelConfig stack(Activation convActivation) {
    return new ModelConfig(
        List.of(
            LayerConfig.conv2d(4, 3, 1, 1, convActivation),
            LayerConfig.of(LayerType.BATCH_NORM),
            LayerConfig.conv2d(4, 3, 1, 1, Activation.RELU),
            LayerConfig.pool(LayerType.MAX_POOL, 2, 2, 0),
            LayerConfig.dense(8, Activation.IDENTITY),
            LayerConfig.of(LayerType.BATCH_NORM),
            LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
        WeightInit.XAVIER_UNIFORM,
        0.0,
        1e-4,
        Precision.FLOAT32,
        InputConfig.image(28, 28, 1),
        0.0);
  }

  /** A residual graph: identity block (convolutions into batch norms, an add) and a projection. */
  private static ModelConfig graph() {
    List<LayerConfig> l = new ArrayList<>();
    l.add(LayerConfig.conv2d(4, 3, 2, 1, Activation.IDENTITY).named("stem"));
    l.add(LayerConfig.activation(Activation.RELU).named("stem_act"));
    l.add(LayerConfig.conv2d(4, 3, 1, 1, Activation.IDENTITY).named("a1"));
    l.add(LayerConfig.of(LayerType.BATCH_NORM).named("a1_bn"));
    l.add(LayerConfig.activation(Activation.RELU).named("a1_act"));
    l.add(LayerConfig.conv2d(4, 3, 1, 1, Activation.IDENTITY).named("a2"));
    l.add(LayerConfig.merge(LayerType.ADD, "a_sum", "a2", "stem_act"));
    l.add(LayerConfig.activation(Activation.RELU).named("a_act"));
    l.add(LayerConfig.conv2d(8, 3, 2, 1, Activation.IDENTITY).named("b1"));
    l.add(LayerConfig.of(LayerType.BATCH_NORM).named("b1_bn"));
    l.add(LayerConfig.conv2d(8, 1, 2, 0, Activation.IDENTITY).named("proj", "a_act"));
    l.add(LayerConfig.of(LayerType.BATCH_NORM).named("proj_bn"));
    l.add(LayerConfig.merge(LayerType.ADD, "b_sum", "b1_bn", "proj_bn"));
    l.add(LayerConfig.of(LayerType.GLOBAL_AVG_POOL).named("pool"));
    l.add(LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY).named("fc"));
    return new ModelConfig(
        l,
        WeightInit.XAVIER_UNIFORM,
        0.0,
        1e-4,
        Precision.FLOAT32,
        InputConfig.image(28, 28, 1),
        0.0);
  }

  /** The layer names (graph) or indices (stack) whose bias lies in one of {@code biases}. */
  private static Set<String> owners(
      Layer[] layers, long base, CancelledBiases biases, boolean named) {
    Set<String> out = new TreeSet<>();
    for (int i = 0; i < layers.length; i++) {
      INDArray b = layers[i].paramTable().get("b");
      if (b == null) {
        continue;
      }
      long from = b.offset() - base;
      for (int r = 0; r < biases.count(); r++) {
        if (biases.from(r) == from && biases.to(r) == from + b.length()) {
          out.add(named ? layers[i].conf().getLayer().getLayerName() : String.valueOf(i));
        }
      }
    }
    return out;
  }

  @Test
  void aStackCancelsTheBiasOfAnIdentityLayerBeforeBatchNormOnly() {
    MultiLayerNetwork net = ModelFactory.create(stack(Activation.IDENTITY), 784, 3);
    CancelledBiases biases = ParameterRules.of(net, stack(Activation.IDENTITY)).cancelledBiases();
    assertEquals(
        Set.of("0", "4"),
        owners(net.getLayers(), net.params().offset(), biases, false),
        "" + biases);
    MultiLayerNetwork relu = ModelFactory.create(stack(Activation.RELU), 784, 3);
    // a ReLU between convolution and batch norm: the bias changes which units pass
    assertEquals(
        Set.of("4"),
        owners(
            relu.getLayers(),
            relu.params().offset(),
            ParameterRules.of(relu, stack(Activation.RELU)).cancelledBiases(),
            false));
  }

  @Test
  void aGraphCancelsBiasesThatFeedOnlyBatchNorms() {
    ComputationGraph net = GraphFactory.create(graph(), 784, 3);
    CancelledBiases biases = ParameterRules.of(net, graph()).cancelledBiases();
    // stem feeds an activation, a2 the merge, fc is the output
    assertEquals(
        Set.of("a1", "b1", "proj"),
        owners(net.getLayers(), net.params().offset(), biases, true),
        "" + biases);
  }

  @Test
  void theGlobalStepLeavesCancelledBiasesWhereTheyAre() {
    MultiLayerNetwork net = ModelFactory.create(stack(Activation.IDENTITY), 784, 3);
    ParameterRules rules = ParameterRules.of(net, stack(Activation.IDENTITY));
    CancelledBiases biases = rules.cancelledBiases();
    int n = (int) net.numParams();
    INDArray w0 = net.params().dup();
    // rounding noise of the size DL4J leaves in these entries, and real gradients elsewhere
    INDArray noise = Nd4j.zeros(DataType.FLOAT, n).addi(5e-8);
    for (OptimizerType type : List.of(OptimizerType.ADAM, OptimizerType.RMSPROP)) {
      INDArray w = w0.dup();
      GlobalStep.create(OptimizerConfig.of(type, 1e-3), rules).apply(w, noise.dup(), 2, 0);
      float[] wf = w0.toFloatVector();
      GlobalStep.create(OptimizerConfig.of(type, 1e-3), rules)
          .apply(wf, noise.toFloatVector(), 2, 0);
      for (int r = 0; r < biases.count(); r++) {
        for (int i = biases.from(r); i < biases.to(r); i++) {
          assertEquals(w0.getFloat(i), w.getFloat(i), 0f, type + " nd4j form, entry " + i);
          assertEquals(w0.getFloat(i), wf[i], 0f, type + " float form, entry " + i);
        }
      }
      // an ordinary entry with the same noise moves by about the learning rate
      int other = biases.to(0);
      assertTrue(Math.abs(w.getFloat(other) - w0.getFloat(other)) > 1e-4, type + " moved");
    }
    // a shard starting inside a range keeps the rest of it
    int from = biases.from(0) + 1;
    float[] wf = w0.toFloatVector();
    GlobalStep.create(OptimizerConfig.of(OptimizerType.ADAM, 1e-3), rules, from, n)
        .update(wf, noise.toFloatVector(), 2, 0);
    for (int i = from; i < biases.to(0); i++) {
      assertEquals(w0.getFloat(i), wf[i], 0f, "shard, entry " + i);
    }
  }

  @Test
  void aGraphsGradientLayoutNamesEachTensorAtItsOffset() {
    ComputationGraph net = GraphFactory.create(graph(), 784, 3);
    GradientLayout layout = GradientLayout.of(net);
    long base = net.params().offset();
    int checked = 0;
    for (Layer layer : net.getLayers()) {
      for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
        String name = layer.conf().getLayer().getLayerName() + "_" + e.getKey();
        GradientLayout.Tensor t =
            layout.tensors().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
        assertEquals(e.getValue().offset() - base, t.offset(), name);
        assertEquals(e.getValue().length(), t.length(), name);
        checked++;
      }
    }
    assertEquals(layout.tensors().size(), checked);
  }
}
