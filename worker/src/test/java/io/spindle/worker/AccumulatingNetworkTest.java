package io.spindle.worker;

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
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.data.MiniBatch;
import io.spindle.model.StepKey;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradient accumulation on one replica: the summed gradient, mean loss and correct count of a share
 * computed in K micro-batches equal those of the share at once, with dropout (its masks follow the
 * examples' global indices), for a stack and a graph.
 */
class AccumulatingNetworkTest {
  static final int N = 11; // not a multiple of K: micro-batches of unequal size

  static ModelConfig stack() {
    return new ModelConfig(
        List.of(
            new LayerConfig(LayerType.DENSE, 16, Activation.RELU, 0.3, null),
            new LayerConfig(LayerType.OUTPUT, 4, Activation.SOFTMAX, 0.2, Loss.CROSS_ENTROPY)),
        WeightInit.XAVIER_UNIFORM,
        0.0,
        0.0,
        Precision.FLOAT32,
        InputConfig.flat(),
        0.0);
  }

  static ModelConfig graph() {
    return new ModelConfig(
        List.of(
            LayerConfig.dense(12, Activation.RELU).named("a"),
            LayerConfig.merge(LayerType.ADD, "sum", "a", "input"),
            new LayerConfig(LayerType.OUTPUT, 4, Activation.SOFTMAX, 0.2, Loss.CROSS_ENTROPY)
                .named("fc")),
        WeightInit.XAVIER_UNIFORM,
        0.0,
        0.0,
        Precision.FLOAT32,
        InputConfig.flat(),
        0.0);
  }

  static MiniBatch batch() {
    SplittableRandom r = new SplittableRandom(5);
    float[] x = new float[N * 12];
    int[] y = new int[N];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextDouble();
    }
    for (int i = 0; i < N; i++) {
      y[i] = r.nextInt(4);
    }
    return new MiniBatch(0, N, 12, x, y);
  }

  @ParameterizedTest(name = "accumulate {0}")
  @ValueSource(ints = {2, 3, 11, 20})
  void microBatchesSumToTheWholeShare(int k) {
    for (ModelConfig model : List.of(stack(), graph())) {
      ModelSpec spec =
          new ModelSpec(model, OptimizerConfig.of(OptimizerType.SGD, 0.1), 12, 4, 9, 1);
      TrainableNetwork whole = spec.newNetwork();
      TrainableNetwork parts = spec.withAccumulate(k).newNetwork();
      assertTrue(parts instanceof AccumulatingNetwork);
      parts.params().assign(whole.params());
      StepKey key = new StepKey(9, 3, 40);
      double wholeLoss = whole.computeGradient(batch(), key);
      INDArray expected = whole.gradient().dup();
      double partsLoss = parts.computeGradient(batch(), key);
      assertEquals(wholeLoss, partsLoss, 1e-5 * Math.abs(wholeLoss));
      assertEquals(whole.correctOfLastForward(), parts.correctOfLastForward());
      float[] e = expected.toFloatVector();
      float[] a = parts.gradient().toFloatVector();
      float scale = (float) expected.amaxNumber().doubleValue();
      assertTrue(scale > 0);
      assertArrayEquals(e, a, 1e-5f * scale, model.isGraph() ? "graph" : "stack");
      // a different key draws other dropout masks, so the check above could fail
      TrainableNetwork other = spec.newNetwork();
      other.params().assign(whole.params());
      other.computeGradient(batch(), new StepKey(9, 3, 41));
      float[] o = other.gradient().toFloatVector();
      double diff = 0;
      for (int i = 0; i < o.length; i++) {
        diff = Math.max(diff, Math.abs(o[i] - e[i]));
      }
      assertTrue(diff > 1e-3 * scale, "dropout masks depend on the examples' indices");
    }
  }

  @Test
  void rowsOfABatchAreItsRows() {
    MiniBatch b = batch();
    MiniBatch r = b.rows(3, 7);
    assertEquals(4, r.size());
    assertArrayEquals(java.util.Arrays.copyOfRange(b.features(), 3 * 12, 7 * 12), r.features(), 0f);
    assertArrayEquals(java.util.Arrays.copyOfRange(b.labels(), 3, 7), r.labels());
  }
}
