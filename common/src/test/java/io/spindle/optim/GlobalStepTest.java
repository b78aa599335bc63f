package io.spindle.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import io.spindle.model.MaxNorm;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterRules;
import io.spindle.model.Regularization;
import java.util.List;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The one global step: its formula (mean, penalty, optimiser, raw updates, max-norm), its two forms
 * (ND4J and fused float) agreeing, and shards of any cut giving exactly the whole vector's step,
 * with their states cut and put back together.
 */
class GlobalStepTest {
  /** Convolution, batch norm (raw-update statistics), dense and output: every kind of entry. */
  static final ModelConfig MODEL =
      new ModelConfig(
          List.of(
              LayerConfig.conv2d(3, 2, 1, 0, Activation.RELU),
              LayerConfig.of(LayerType.BATCH_NORM),
              LayerConfig.dense(5, Activation.RELU),
              LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
          WeightInit.HE_NORMAL,
          1e-3,
          1e-2,
          Precision.FLOAT32,
          InputConfig.image(4, 4, 2),
          0.4);

  static MultiLayerNetwork net() {
    return ModelFactory.create(MODEL, 32, 3);
  }

  static ParameterRules rules(MultiLayerNetwork net) {
    ParameterRules rules = ParameterRules.of(net, MODEL);
    assertTrue(rules.rawUpdates().count() > 0, "batch-norm statistics in the vector");
    return rules;
  }

  static final OptimizerConfig ADAM = OptimizerConfig.of(OptimizerType.ADAM, 0.05);

  static float[] gradient(int n, int seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] g = new float[n];
    for (int i = 0; i < n; i++) {
      g[i] = (float) (r.nextDouble() * 8 - 4);
    }
    return g;
  }

  @Test
  void theStepIsMeanPenaltyOptimiserThenMaxNorm() {
    MultiLayerNetwork net = net();
    ParameterRules rules = rules(net);
    int n = (int) net.numParams();
    INDArray w = net.params().dup().reshape(n);
    INDArray expected = w.dup();
    FlatOptimizer optimizer =
        FlatOptimizer.create(ADAM, n, DataType.FLOAT).rawUpdates(rules.rawUpdates());
    Regularization penalty = rules.regularization();
    MaxNorm maxNorm = rules.maxNorm();
    GlobalStep step = GlobalStep.create(ADAM, rules);
    for (int t = 0; t < 3; t++) {
      INDArray sum = Nd4j.createFromArray(gradient(n, t));
      INDArray g = sum.div(8);
      penalty.addGradient(expected, g);
      optimizer.step(expected, g, t);
      maxNorm.apply(expected);
      step.apply(w, sum.dup(), 8, t);
    }
    assertEquals(expected, w);
    assertEquals(optimizer.state(), step.state());
    assertTrue(maxNorm.largestNorm(w) <= 0.4 * (1 + 1e-6), "max-norm applied");
  }

  @Test
  void theFusedFloatFormMatchesTheNd4jForm() {
    MultiLayerNetwork net = net();
    ParameterRules rules = rules(net);
    int n = (int) net.numParams();
    INDArray w = net.params().dup().reshape(n);
    float[] values = w.toFloatVector();
    GlobalStep a = GlobalStep.create(ADAM, rules);
    GlobalStep b = GlobalStep.create(ADAM, rules);
    for (int t = 0; t < 4; t++) {
      float[] g = gradient(n, 10 + t);
      a.apply(w, Nd4j.createFromArray(g.clone()), 5, t);
      b.apply(values, g.clone(), 5, t);
    }
    assertArrayEquals(w.toFloatVector(), values, 1e-6f);
    assertArrayEquals(a.state().toFloatVector(), b.state().toFloatVector(), 1e-6f);
  }

  /** ZeRO-1: each shard updates its range, then everyone constrains the gathered vector. */
  @Test
  void shardsOfAnyCutStepExactlyAsTheWholeVector() {
    MultiLayerNetwork net = net();
    ParameterRules rules = rules(net);
    int n = (int) net.numParams();
    int[] cut = {0, 7, n / 2, n - 3, n};
    float[] whole = net.params().toFloatVector();
    float[] sharded = whole.clone();
    GlobalStep all = GlobalStep.create(ADAM, rules);
    GlobalStep[] shards = new GlobalStep[cut.length - 1];
    for (int s = 0; s < shards.length; s++) {
      shards[s] = GlobalStep.create(ADAM, rules, cut[s], cut[s + 1]);
    }
    for (int t = 0; t < 3; t++) {
      float[] g = gradient(n, 20 + t);
      all.apply(whole, g.clone(), 3, t);
      float[] shared = g.clone();
      for (GlobalStep shard : shards) {
        shard.update(sharded, shared, 3, t);
      }
      shards[0].constrain(sharded);
    }
    assertArrayEquals(whole, sharded, 0f);
    // the shards' states, put back together, are the whole vector's state
    float[] state = new float[(int) all.stateLength()];
    for (GlobalStep shard : shards) {
      FlatOptimizer.placeState(shard.state().toFloatVector(), state, n, shard.from(), shard.to());
    }
    assertArrayEquals(all.state().toFloatVector(), state, 0f);
    assertThrows(IllegalStateException.class, () -> shards[1].apply(sharded, gradient(n, 1), 1, 3));
  }

  /** Re-cutting: a range taken from a step carries that range's state and continues exactly. */
  @Test
  void aRangeCutFromAStepContinuesItExactly() {
    MultiLayerNetwork net = net();
    ParameterRules rules = rules(net);
    int n = (int) net.numParams();
    float[] w = net.params().toFloatVector();
    GlobalStep all = GlobalStep.create(ADAM, rules);
    all.update(w, gradient(n, 30), 4, 0);
    float[] fromWhole = w.clone();
    GlobalStep left = all.range(0, 11);
    GlobalStep right = all.range(11, n);
    assertArrayEquals(
        FlatOptimizer.sliceState(all.state().toFloatVector(), n, 11, n),
        right.state().toFloatVector(),
        0f);
    float[] g = gradient(n, 31);
    all.update(fromWhole, g.clone(), 4, 1);
    float[] shared = g.clone();
    left.update(w, shared, 4, 1);
    right.update(w, shared, 4, 1);
    assertArrayEquals(fromWhole, w, 0f);
  }

  @Test
  void stateSlicesRoundTripAndBadCutsAreRefused() {
    float[] full = new float[2 * 10];
    for (int i = 0; i < full.length; i++) {
      full[i] = i;
    }
    float[] mid = FlatOptimizer.sliceState(full, 10, 3, 6);
    assertArrayEquals(new float[] {3, 4, 5, 13, 14, 15}, mid, 0f);
    float[] back = new float[20];
    FlatOptimizer.placeState(FlatOptimizer.sliceState(full, 10, 0, 3), back, 10, 0, 3);
    FlatOptimizer.placeState(mid, back, 10, 3, 6);
    FlatOptimizer.placeState(FlatOptimizer.sliceState(full, 10, 6, 10), back, 10, 6, 10);
    assertArrayEquals(full, back, 0f);
    assertThrows(IllegalArgumentException.class, () -> FlatOptimizer.sliceState(full, 10, 4, 11));
    assertThrows(IllegalArgumentException.class, () -> FlatOptimizer.sliceState(full, 7, 0, 3));
    assertThrows(
        IllegalArgumentException.class, () -> FlatOptimizer.placeState(mid, back, 10, 3, 7));
  }

  @Test
  void aStepWithoutExamplesIsRefused() {
    MultiLayerNetwork net = net();
    GlobalStep step = GlobalStep.create(ADAM, rules(net));
    int n = (int) net.numParams();
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> step.apply(net.params().dup(), Nd4j.zeros(DataType.FLOAT, n), 0, 0));
    assertTrue(e.getMessage().contains("at least one example"), e.getMessage());
  }
}
