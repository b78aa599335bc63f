package io.spindle.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.ParameterGroup;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.model.GraphFactory;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterKinds.Kind;
import io.spindle.model.ParameterRules;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The optimiser's weight decay ({@code optimizer.weightDecay}, {@code weightDecayExclude}) in the
 * one global step: it touches exactly the entries of the kinds it does not leave out, never batch
 * norm's running statistics, in the ND4J and fused float forms and in shards of any cut, for stacks
 * and graphs.
 */
class WeightDecayTest {
  static final double LAMBDA = 0.25;
  static final double LR = 0.5;

  /** Convolution with bias, batch norm, dense, output: weights, biases, scale/shift, statistics. */
  static final ModelConfig STACK =
      new ModelConfig(
          List.of(
              LayerConfig.conv2d(3, 2, 1, 0, Activation.RELU),
              LayerConfig.of(LayerType.BATCH_NORM),
              LayerConfig.dense(5, Activation.RELU),
              LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
          WeightInit.HE_NORMAL,
          0.0,
          0.0,
          Precision.FLOAT32,
          InputConfig.image(4, 4, 2),
          0.0);

  /** A residual graph: conv, batch norm, add, pool, output. */
  static final ModelConfig GRAPH =
      new ModelConfig(
          List.of(
              LayerConfig.conv2d(2, 3, 1, 1, Activation.IDENTITY).named("c0"),
              LayerConfig.conv2d(2, 3, 1, 1, Activation.IDENTITY).named("c1"),
              LayerConfig.of(LayerType.BATCH_NORM).named("b1"),
              LayerConfig.merge(LayerType.ADD, "sum", "b1", "c0"),
              LayerConfig.of(LayerType.GLOBAL_AVG_POOL).named("pool"),
              LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY).named("fc")),
          WeightInit.HE_NORMAL,
          0.0,
          0.0,
          Precision.FLOAT32,
          InputConfig.image(4, 4, 2),
          0.0);

  /** The kind of every entry, from the layers' parameter tables (independent of ParameterKinds). */
  static List<Kind> kinds(Layer[] layers) {
    List<Kind> out = new ArrayList<>();
    for (Layer layer : layers) {
      boolean bn =
          layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BatchNormalization;
      for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
        String key = e.getKey();
        Kind k =
            bn
                ? (key.equals("gamma") || key.equals("beta") ? Kind.BATCH_NORM : Kind.STATISTICS)
                : key.equals("b") ? Kind.BIAS : Kind.WEIGHT;
        for (long i = 0; i < e.getValue().length(); i++) {
          out.add(k);
        }
      }
    }
    return out;
  }

  static OptimizerConfig sgd(ParameterGroup... exclude) {
    return OptimizerConfig.of(OptimizerType.SGD, LR).withWeightDecay(LAMBDA, List.of(exclude));
  }

  /**
   * With a zero data gradient, SGD with decay moves entry i by exactly {@code -lr * lambda * w_i}
   * where decayed and not at all elsewhere.
   */
  static void assertDecaysExactly(
      INDArray params, ParameterRules rules, List<Kind> kinds, ParameterGroup... exclude) {
    int n = (int) rules.numParams();
    assertEquals(n, kinds.size());
    float[] w0 = new float[n];
    SplittableRandom r = new SplittableRandom(7);
    for (int i = 0; i < n; i++) {
      w0[i] = (float) (r.nextDouble() * 2 + 0.5); // > 0, so no entry starts at 0
    }
    INDArray w = Nd4j.createFromArray(w0);
    GlobalStep.create(sgd(exclude), rules).apply(w, Nd4j.zeros(w.dataType(), n), 4, 0);
    float[] w1 = w.toFloatVector();
    Set<Kind> decayed = EnumSet.of(Kind.WEIGHT, Kind.BIAS, Kind.BATCH_NORM);
    for (ParameterGroup g : exclude) {
      decayed.remove(g == ParameterGroup.BIAS ? Kind.BIAS : Kind.BATCH_NORM);
    }
    EnumSet<Kind> seen = EnumSet.noneOf(Kind.class);
    for (int i = 0; i < n; i++) {
      Kind k = kinds.get(i);
      seen.add(k);
      assertEquals(k, rules.kinds().kindAt(i), "kind of entry " + i);
      float expected = decayed.contains(k) ? w0[i] - (float) (LR * LAMBDA) * w0[i] : w0[i];
      assertEquals(expected, w1[i], 1e-6f * Math.abs(w0[i]), k + " entry " + i);
      if (!decayed.contains(k)) {
        assertEquals(w0[i], w1[i], 0f, k + " entry " + i + " must not move");
      }
    }
    assertEquals(EnumSet.allOf(Kind.class), seen, "the network has every kind of entry");
  }

  @Test
  void decayTouchesExactlyTheKindsItDoesNotLeaveOutInAStack() {
    MultiLayerNetwork net = ModelFactory.create(STACK, 32, 3);
    ParameterRules rules = ParameterRules.of(net, STACK);
    List<Kind> kinds = kinds(net.getLayers());
    assertDecaysExactly(net.params(), rules, kinds);
    assertDecaysExactly(net.params(), rules, kinds, ParameterGroup.BIAS);
    assertDecaysExactly(net.params(), rules, kinds, ParameterGroup.BATCH_NORM);
    assertDecaysExactly(net.params(), rules, kinds, ParameterGroup.BATCH_NORM, ParameterGroup.BIAS);
  }

  @Test
  void decayTouchesExactlyTheKindsItDoesNotLeaveOutInAGraph() {
    ComputationGraph net = GraphFactory.create(GRAPH, 32, 3);
    ParameterRules rules = ParameterRules.of(net, GRAPH);
    // the graph's flat order is its topological order, which is the order of getLayers() here
    List<Kind> kinds = kinds(net.getLayers());
    assertDecaysExactly(net.params(), rules, kinds);
    assertDecaysExactly(net.params(), rules, kinds, ParameterGroup.BATCH_NORM, ParameterGroup.BIAS);
  }

  @Test
  void theFusedFormAndShardsOfAnyCutDecayAsTheWholeNd4jStep() {
    MultiLayerNetwork net = ModelFactory.create(STACK, 32, 3);
    ParameterRules rules = ParameterRules.of(net, STACK);
    int n = (int) rules.numParams();
    OptimizerConfig opt =
        OptimizerConfig.of(OptimizerType.NESTEROV, 0.1)
            .withWeightDecay(1e-2, List.of(ParameterGroup.BATCH_NORM));
    float[] g = GlobalStepTest.gradient(n, 11);
    INDArray w = net.params().dup().reshape(n);
    float[] fused = w.toFloatVector();
    GlobalStep whole = GlobalStep.create(opt, rules);
    GlobalStep wholeFused = GlobalStep.create(opt, rules);
    int[] cuts = {0, 7, n / 3, n / 2 + 1, n - 2, n};
    List<GlobalStep> shards = new ArrayList<>();
    for (int c = 0; c + 1 < cuts.length; c++) {
      shards.add(GlobalStep.create(opt, rules, cuts[c], cuts[c + 1]));
    }
    float[] sharded = fused.clone();
    for (int t = 0; t < 3; t++) {
      whole.apply(w, Nd4j.createFromArray(g.clone()), 8, t);
      wholeFused.apply(fused, g.clone(), 8, t);
      float[] gs = g.clone();
      for (GlobalStep s : shards) {
        s.update(sharded, gs, 8, t);
      }
      wholeFused.constrain(sharded);
    }
    assertArrayEquals(w.toFloatVector(), fused, 1e-6f);
    assertArrayEquals(fused, sharded, 0f);
    int covered = 0;
    for (GlobalStep s : shards) {
      int[] d = s.decayedRanges();
      for (int i = 0; i < d.length; i += 2) {
        assertTrue(d[i] >= s.from() && d[i + 1] <= s.to(), "ranges clipped to the shard");
        covered += d[i + 1] - d[i];
      }
    }
    int expected = 0;
    for (Kind k : kinds(net.getLayers())) {
      expected += k == Kind.WEIGHT || k == Kind.BIAS ? 1 : 0;
    }
    assertEquals(expected, covered, "the shards together decay the weights and biases only");
  }

  @Test
  void noDecayLeavesTheStepAsBefore() {
    MultiLayerNetwork net = ModelFactory.create(STACK, 32, 3);
    ParameterRules rules = ParameterRules.of(net, STACK);
    GlobalStep step = GlobalStep.create(OptimizerConfig.of(OptimizerType.SGD, LR), rules);
    assertEquals(0, step.decayedRanges().length);
  }
}
