package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import io.spindle.model.ModelFactory;
import io.spindle.model.OneDnnKernels;
import io.spindle.model.RawUpdateRanges;
import io.spindle.model.StepKey;
import io.spindle.optim.FlatOptimizer;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The fast convolution path against DL4J's own path with its oneDNN helpers (the network {@code
 * ModelFactory.create} builds), without dropout: the same loss, the same gradient (including batch
 * norm's running-statistics updates) and the same parameters after {@value #STEPS} Adam steps, in
 * channels-last and in channels-first layout.
 *
 * <p>Tolerances: gradients agree to {@value #GRAD_RTOL} of the largest gradient entry (float32 sums
 * of a few thousand products in another order); parameters after the Adam steps to {@value
 * #PARAM_ATOL}.
 */
class FastConvNetTest {
  static final double GRAD_RTOL = 2e-4;
  static final double PARAM_ATOL = 5e-5;
  static final int STEPS = 3;

  private static ModelConfig cnn(int channels, int side, int f1, int f2, int dense) {
    return new ModelConfig(
        List.of(
            LayerConfig.conv2d(f1, 3, 1, 1, Activation.RELU),
            LayerConfig.of(LayerType.BATCH_NORM),
            LayerConfig.pool(LayerType.MAX_POOL, 2, 2, 0),
            LayerConfig.conv2d(f2, 3, 1, 1, Activation.RELU),
            LayerConfig.of(LayerType.BATCH_NORM),
            LayerConfig.pool(LayerType.MAX_POOL, 2, 2, 0),
            LayerConfig.dense(dense, Activation.RELU),
            LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
        WeightInit.HE_NORMAL,
        0.0,
        0.0,
        Precision.FLOAT32,
        InputConfig.image(side, side, channels),
        0.0);
  }

  private static float[] features(Random r, int rows, int n) {
    float[] f = new float[rows * n];
    for (int i = 0; i < f.length; i++) {
      f[i] = r.nextFloat();
    }
    return f;
  }

  private static int[] labels(Random r, int rows) {
    int[] y = new int[rows];
    for (int i = 0; i < rows; i++) {
      y[i] = r.nextInt(10);
    }
    return y;
  }

  private static double dl4j(MultiLayerNetwork net, float[] f, int[] y, int rows, int n) {
    INDArray x = Nd4j.createFromArray(f).reshape(rows, n);
    INDArray labels = Nd4j.zeros(DataType.FLOAT, rows, 10);
    for (int i = 0; i < rows; i++) {
      labels.putScalar(i, y[i], 1f);
    }
    net.setInput(x);
    net.setLabels(labels);
    net.computeGradientAndScore();
    return net.score();
  }

  private static float[] grads(MultiLayerNetwork net) {
    return net.getFlattenedGradients().dup().data().asFloat();
  }

  private static void assertClose(float[] expected, float[] actual, double rtol, String what) {
    double max = 0;
    for (float v : expected) {
      max = Math.max(max, Math.abs(v));
    }
    assertTrue(max > 0, what + ": all zero");
    for (int i = 0; i < expected.length; i++) {
      if (Math.abs(expected[i] - actual[i]) > rtol * max) {
        throw new AssertionError(
            what
                + ": entry "
                + i
                + " expected "
                + expected[i]
                + ", got "
                + actual[i]
                + " (tolerance "
                + rtol * max
                + ")");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void lossAndGradientMatchDl4jWithItsOneDnnHelpers(boolean channelsLast) {
    ModelConfig m = cnn(2, 8, 4, 6, 8);
    int n = 2 * 8 * 8;
    MultiLayerNetwork ref = ModelFactory.create(m, n, 3);
    assertEquals(6, countHelpers(ref), "DL4J's path runs on oneDNN too");
    MultiLayerNetwork net = ModelFactory.create(m, n, 3);
    FastConvNet fast = FastConvNet.of(net, m, n, 6, channelsLast);
    Random r = new Random(7);
    for (int rows : new int[] {6, 4}) {
      float[] f = features(r, rows, n);
      int[] y = labels(r, rows);
      double expected = dl4j(ref, f, y, rows, n);
      double loss = fast.computeGradient(f, y, rows, new StepKey(42, 0, 0));
      assertEquals(expected, loss, 1e-5 * expected, "rows " + rows);
      assertClose(grads(ref), grads(net), GRAD_RTOL, "gradient, " + rows + " rows");
    }
  }

  @Test
  void mnistCnnShapesMatchDl4j() {
    ModelConfig m = cnn(1, 28, 32, 64, 128);
    MultiLayerNetwork ref = ModelFactory.create(m, 784, 5);
    MultiLayerNetwork net = ModelFactory.create(m, 784, 5);
    FastConvNet fast = FastConvNet.of(net, m, 784, 16, true);
    Random r = new Random(9);
    float[] f = features(r, 16, 784);
    int[] y = labels(r, 16);
    double expected = dl4j(ref, f, y, 16, 784);
    assertEquals(expected, fast.computeGradient(f, y, 16, new StepKey(42, 0, 0)), 1e-5 * expected);
    assertClose(grads(ref), grads(net), GRAD_RTOL, "gradient");
    assertEquals(countCorrect(ref, f, y), fast.correct(), "training accuracy count");
  }

  @Test
  void trainingTrajectoryMatchesDl4jForThreeAdamSteps() {
    ModelConfig m = cnn(1, 12, 4, 8, 16);
    int n = 144;
    MultiLayerNetwork ref = ModelFactory.create(m, n, 11);
    MultiLayerNetwork net = ModelFactory.create(m, n, 11);
    FastConvNet fast = FastConvNet.of(net, m, n, 10, true);
    OptimizerConfig adam = OptimizerConfig.of(OptimizerType.ADAM, 0.01);
    RawUpdateRanges raw = RawUpdateRanges.of(ref);
    assertFalse(raw.isEmpty(), "batch norm's running statistics are raw updates");
    FlatOptimizer refOpt =
        FlatOptimizer.create(adam, ref.numParams(), DataType.FLOAT).rawUpdates(raw);
    FlatOptimizer fastOpt =
        FlatOptimizer.create(adam, net.numParams(), DataType.FLOAT).rawUpdates(raw);
    Random r = new Random(13);
    for (int step = 0; step < STEPS; step++) {
      float[] f = features(r, 10, n);
      int[] y = labels(r, 10);
      dl4j(ref, f, y, 10, n);
      fast.computeGradient(f, y, 10, new StepKey(42, step, 0));
      for (var pair : List.of(List.of(ref, refOpt), List.of(net, fastOpt))) {
        MultiLayerNetwork x = (MultiLayerNetwork) pair.get(0);
        INDArray g = x.getFlattenedGradients();
        raw.scaleToSum(g, 10); // as the worker does, then the coordinator's mean
        ((FlatOptimizer) pair.get(1)).step(x.params(), g.div(10), step);
      }
      float[] a = ref.params().dup().data().asFloat();
      float[] b = net.params().dup().data().asFloat();
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], PARAM_ATOL, "step " + step + ", parameter " + i);
      }
    }
  }

  /**
   * The other layer orders the fast path takes apart from the fused ones (heap stem, pooling that
   * applies its batch norm and runs its backward): overlapping pooling windows (3 x 3, stride 2), a
   * first convolution with no batch norm after it, and a batch norm with no pooling after it.
   */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void unfusedLayerOrdersMatchDl4j(boolean channelsLast) {
    ModelConfig m =
        new ModelConfig(
            List.of(
                LayerConfig.conv2d(4, 3, 1, 1, Activation.IDENTITY),
                LayerConfig.pool(LayerType.MAX_POOL, 3, 2, 0),
                LayerConfig.conv2d(6, 3, 1, 1, Activation.RELU),
                LayerConfig.of(LayerType.BATCH_NORM),
                LayerConfig.pool(LayerType.MAX_POOL, 3, 2, 0),
                LayerConfig.conv2d(5, 1, 1, 0, Activation.RELU),
                LayerConfig.of(LayerType.BATCH_NORM),
                LayerConfig.dense(8, Activation.RELU),
                LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
            WeightInit.HE_NORMAL,
            0.0,
            0.0,
            Precision.FLOAT32,
            InputConfig.image(9, 9, 1),
            0.0);
    int n = 81;
    MultiLayerNetwork ref = ModelFactory.create(m, n, 17);
    MultiLayerNetwork net = ModelFactory.create(m, n, 17);
    FastConvNet fast = FastConvNet.of(net, m, n, 6, channelsLast);
    Random r = new Random(19);
    for (int rows : new int[] {6, 5}) {
      float[] f = features(r, rows, n);
      int[] y = labels(r, rows);
      double expected = dl4j(ref, f, y, rows, n);
      double loss = fast.computeGradient(f, y, rows, new StepKey(42, 0, 0));
      assertEquals(expected, loss, 1e-5 * expected, "rows " + rows);
      assertClose(grads(ref), grads(net), GRAD_RTOL, "gradient, " + rows + " rows");
    }
  }

  @Test
  void supportsTheCnnFamilyOnly() {
    assertTrue(FastConvNet.supports(cnn(1, 28, 32, 64, 128), 784));
    ModelConfig mlp =
        new ModelConfig(
            List.of(
                LayerConfig.dense(8, Activation.RELU),
                LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
            WeightInit.HE_NORMAL,
            0.0,
            0.0,
            Precision.FLOAT32);
    assertFalse(FastConvNet.supports(mlp, 784));
  }

  private static int countHelpers(MultiLayerNetwork net) {
    int n = 0;
    for (var l : net.getLayers()) {
      if (OneDnnKernels.installed(l)) {
        n++;
      }
    }
    return n;
  }

  /** DL4J's training-mode predictions without dropout: arg-max of the output. */
  private static long countCorrect(MultiLayerNetwork net, float[] f, int[] y) {
    INDArray out = net.output(Nd4j.createFromArray(f).reshape(y.length, f.length / y.length), true);
    long c = 0;
    for (int i = 0; i < y.length; i++) {
      if (out.getRow(i).argMax().getInt(0) == y[i]) {
        c++;
      }
    }
    return c;
  }
}
