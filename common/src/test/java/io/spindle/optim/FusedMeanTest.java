package io.spindle.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterRules;
import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The mean folded into Adam's pass ({@link FlatOptimizer#step(float[], int, float[], int, long,
 * float)}, which {@link GlobalStep}'s float32 form uses when nothing comes between the mean and the
 * optimiser) against what it replaces, scaling the gradient sum in place and then stepping: equal
 * bit for bit (tolerance 0), parameters and state, for a plain MLP (the fused case), with
 * batch-norm raw-update ranges (restored with the scaled gradient), and shard by shard.
 */
class FusedMeanTest {
  static final OptimizerConfig ADAM = OptimizerConfig.of(OptimizerType.ADAM, 0.01);
  static final ModelConfig MLP =
      new ModelConfig(
          List.of(
              LayerConfig.dense(9, Activation.RELU),
              LayerConfig.output(4, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
          WeightInit.HE_NORMAL,
          0.0,
          0.0,
          Precision.FLOAT32);

  /** Scale in place, then the plain float32 step: the unfused form. */
  private static void unfused(
      FlatOptimizer opt, float[] w, float[] sum, int from, int to, long examples, long t) {
    float scale = (float) (1.0 / examples);
    for (int i = from; i < to; i++) {
      sum[i] *= scale;
    }
    opt.step(w, from, sum, from, t);
  }

  @Test
  void globalStepOfAnMlpIsTheUnfusedMeanThenAdamBitForBit() {
    MultiLayerNetwork net = ModelFactory.create(MLP, 13, 5);
    ParameterRules rules = ParameterRules.of(net, MLP);
    int n = (int) net.numParams();
    float[] fused = net.params().toFloatVector();
    float[] plain = fused.clone();
    GlobalStep step = GlobalStep.create(ADAM, rules);
    FlatOptimizer reference = FlatOptimizer.create(ADAM, n, DataType.FLOAT);
    for (int t = 0; t < 6; t++) {
      float[] sum = GlobalStepTest.gradient(n, 40 + t);
      float[] kept = sum.clone();
      step.apply(fused, sum, 7 + t, t);
      assertArrayEquals(kept, sum, 0f, "Adam's fused pass leaves the gradient sum as it is");
      unfused(reference, plain, kept, 0, n, 7 + t, t);
      rules.maxNorm().apply(plain, 0);
    }
    assertArrayEquals(plain, fused, 0f);
    assertArrayEquals(reference.state().toFloatVector(), step.state().toFloatVector(), 0f);
  }

  @Test
  void rawUpdateRangesGetTheScaledGradient() {
    MultiLayerNetwork net = GlobalStepTest.net();
    ParameterRules rules = GlobalStepTest.rules(net);
    int n = (int) net.numParams();
    FlatOptimizer a = FlatOptimizer.create(ADAM, n, DataType.FLOAT).rawUpdates(rules.rawUpdates());
    FlatOptimizer b = FlatOptimizer.create(ADAM, n, DataType.FLOAT).rawUpdates(rules.rawUpdates());
    float[] fused = net.params().toFloatVector();
    float[] plain = fused.clone();
    for (int t = 0; t < 4; t++) {
      float[] sum = GlobalStepTest.gradient(n, 60 + t);
      a.step(fused, 0, sum.clone(), 0, t, (float) (1.0 / 6));
      unfused(b, plain, sum, 0, n, 6, t);
    }
    assertArrayEquals(plain, fused, 0f);
    assertArrayEquals(b.state().toFloatVector(), a.state().toFloatVector(), 0f);
  }

  @Test
  void shardsOfTheFusedStepEqualTheWholeVector() {
    MultiLayerNetwork net = ModelFactory.create(MLP, 13, 5);
    ParameterRules rules = ParameterRules.of(net, MLP);
    int n = (int) net.numParams();
    int[] cut = {0, 5, n / 2, n - 1, n};
    float[] whole = net.params().toFloatVector();
    float[] sharded = whole.clone();
    GlobalStep all = GlobalStep.create(ADAM, rules);
    GlobalStep[] shards = new GlobalStep[cut.length - 1];
    for (int s = 0; s < shards.length; s++) {
      shards[s] = GlobalStep.create(ADAM, rules, cut[s], cut[s + 1]);
    }
    for (int t = 0; t < 3; t++) {
      float[] g = GlobalStepTest.gradient(n, 80 + t);
      all.apply(whole, g.clone(), 3, t);
      for (GlobalStep shard : shards) {
        shard.update(sharded, g, 3, t);
      }
      shards[0].constrain(sharded);
    }
    assertArrayEquals(whole, sharded, 0f);
    assertEquals(2L * n, all.stateLength());
    assertTrue(n > 40, "a vector worth cutting, got " + n);
  }
}
