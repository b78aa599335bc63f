package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ModelFactory;
import io.spindle.model.StepKey;
import io.spindle.optim.FlatOptimizer;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The fast dense path against DL4J's own path (no dropout: same loss, gradient and training
 * trajectory to float32 rounding) and against an independent double-precision reference that
 * applies the same keyed dropout masks; and its masks against the split of the batch.
 *
 * <p>Tolerances: gradients agree to {@value #GRAD_RTOL} of the largest gradient entry (float32
 * products summed in a different order: oneDNN here, OpenBLAS in DL4J); after {@value #STEPS} Adam
 * steps the parameters agree to {@value #PARAM_ATOL} absolute.
 */
class FastDenseNetTest {
  static final double GRAD_RTOL = 1e-5;
  static final double PARAM_ATOL = 2e-5;
  static final int STEPS = 5;
  static final long SEED = 42;

  private static ModelConfig model(int h1, int h2, int out, double p1, double p2, Activation a) {
    return new ModelConfig(
        List.of(
            new LayerConfig(LayerType.DENSE, h1, Activation.RELU, 0.0, null),
            new LayerConfig(LayerType.DENSE, h2, a, p1, null),
            new LayerConfig(LayerType.OUTPUT, out, Activation.SOFTMAX, p2, Loss.CROSS_ENTROPY)),
        WeightInit.HE_NORMAL,
        0.0,
        0.0,
        Precision.FLOAT32);
  }

  private static float[] features(Random r, int rows, int cols) {
    float[] f = new float[rows * cols];
    for (int i = 0; i < f.length; i++) {
      f[i] = r.nextFloat();
    }
    return f;
  }

  private static int[] labels(Random r, int rows, int classes) {
    int[] y = new int[rows];
    for (int i = 0; i < rows; i++) {
      y[i] = r.nextInt(classes);
    }
    return y;
  }

  /** DL4J's loss and summed gradient of the batch (copied out of the flat view). */
  private static double dl4j(MultiLayerNetwork net, float[] f, int[] y, int rows, int cols, int k) {
    INDArray x = Nd4j.createFromArray(f).reshape(rows, cols);
    INDArray labels = Nd4j.zeros(DataType.FLOAT, rows, k);
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

  private static double maxAbs(float[] a) {
    double m = 0;
    for (float v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  private static void assertClose(float[] expected, float[] actual, double rtol, String what) {
    assertEquals(expected.length, actual.length, what);
    double tol = rtol * maxAbs(expected);
    assertTrue(maxAbs(expected) > 0, what + ": all zero");
    for (int i = 0; i < expected.length; i++) {
      if (Math.abs(expected[i] - actual[i]) > tol) {
        throw new AssertionError(
            what
                + ": entry "
                + i
                + " expected "
                + expected[i]
                + ", got "
                + actual[i]
                + " (tol "
                + tol
                + ")");
      }
    }
  }

  @Test
  void lossAndGradientMatchDl4jOnTheMnistMlpShapes() {
    ModelConfig m = model(800, 800, 10, 0, 0, Activation.RELU);
    MultiLayerNetwork ref = ModelFactory.create(m, 784, 7);
    MultiLayerNetwork net = ModelFactory.create(m, 784, 7);
    FastDenseNet fast = FastDenseNet.of(net, m, 128);
    Random r = new Random(3);
    float[] f = features(r, 128, 784);
    int[] y = labels(r, 128, 10);
    double expectedLoss = dl4j(ref, f, y, 128, 784, 10);
    double loss = fast.computeGradient(f, y, 128, new StepKey(SEED, 0, 0));
    assertEquals(expectedLoss, loss, 1e-5 * Math.abs(expectedLoss));
    assertClose(grads(ref), grads(net), GRAD_RTOL, "gradient");
  }

  @Test
  void smallerBatchesAndIdentityLayersMatchDl4j() {
    ModelConfig m = model(16, 12, 5, 0, 0, Activation.IDENTITY);
    MultiLayerNetwork ref = ModelFactory.create(m, 20, 11);
    MultiLayerNetwork net = ModelFactory.create(m, 20, 11);
    FastDenseNet fast = FastDenseNet.of(net, m, 32);
    Random r = new Random(5);
    for (int rows : new int[] {32, 7, 1}) {
      float[] f = features(r, rows, 20);
      int[] y = labels(r, rows, 5);
      double expected = dl4j(ref, f, y, rows, 20, 5);
      assertEquals(
          expected,
          fast.computeGradient(f, y, rows, new StepKey(SEED, 0, 0)),
          1e-5 * expected,
          "rows " + rows);
      assertClose(grads(ref), grads(net), GRAD_RTOL, "gradient, " + rows + " rows");
    }
  }

  @Test
  void trainingTrajectoryMatchesDl4jForFiveAdamSteps() {
    ModelConfig m = model(64, 48, 10, 0, 0, Activation.RELU);
    MultiLayerNetwork ref = ModelFactory.create(m, 50, 13);
    MultiLayerNetwork net = ModelFactory.create(m, 50, 13);
    FastDenseNet fast = FastDenseNet.of(net, m, 40);
    OptimizerConfig adam = OptimizerConfig.of(io.spindle.config.OptimizerType.ADAM, 0.001);
    FlatOptimizer refOpt = FlatOptimizer.create(adam, ref.numParams(), DataType.FLOAT);
    FlatOptimizer fastOpt = FlatOptimizer.create(adam, net.numParams(), DataType.FLOAT);
    Random r = new Random(17);
    for (int step = 0; step < STEPS; step++) {
      float[] f = features(r, 40, 50);
      int[] y = labels(r, 40, 10);
      dl4j(ref, f, y, 40, 50, 10);
      fast.computeGradient(f, y, 40, new StepKey(SEED, step, 0));
      refOpt.step(ref.params(), ref.getFlattenedGradients().div(40), step);
      fastOpt.step(net.params(), net.getFlattenedGradients().div(40), step);
      float[] a = ref.params().dup().data().asFloat();
      float[] b = net.params().dup().data().asFloat();
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], PARAM_ATOL, "step " + step + ", parameter " + i);
      }
    }
  }

  @Test
  void dropoutMatchesADoublePrecisionReferenceWithTheSameMasks() {
    for (Activation a : new Activation[] {Activation.RELU, Activation.IDENTITY}) {
      ModelConfig m = model(24, 16, 6, 0.3, 0.2, a);
      MultiLayerNetwork net = ModelFactory.create(m, 12, 19);
      FastDenseNet fast = FastDenseNet.of(net, m, 10);
      Random r = new Random(23);
      float[] f = features(r, 10, 12);
      int[] y = labels(r, 10, 6);
      double loss = fast.computeGradient(f, y, 10, new StepKey(SEED, 4, 30));
      Reference ref = new Reference(net, m);
      double expected = ref.lossAndGradient(f, y, 10, 4, 30);
      assertEquals(expected, loss, 1e-5 * expected, a.toString());
      assertClose(ref.gradient, grads(net), GRAD_RTOL, "gradient with dropout, " + a);
    }
  }

  @Test
  void dropoutMasksAreDl4jsKeyedDropoutMasks() {
    ModelConfig m = model(64, 48, 10, 0.3, 0.2, Activation.RELU);
    MultiLayerNetwork ref = ModelFactory.create(m, 30, 17);
    MultiLayerNetwork net = ModelFactory.create(m, 30, 17);
    FastDenseNet fast = FastDenseNet.of(net, m, 12);
    Random r = new Random(41);
    for (int step = 0; step < 3; step++) {
      float[] f = features(r, 12, 30);
      int[] y = labels(r, 12, 10);
      StepKey key = new StepKey(SEED, 100 + step, 24);
      KeyedDropout.key(ref, key);
      double expected = dl4j(ref, f, y, 12, 30, 10);
      assertEquals(expected, fast.computeGradient(f, y, 12, key), 1e-5 * expected, "step " + step);
      assertClose(grads(ref), grads(net), GRAD_RTOL, "gradient with keyed dropout, step " + step);
    }
  }

  @Test
  void masksFollowTheExampleSoSplitBatchesSumToTheWholeBatch() {
    ModelConfig m = model(32, 32, 4, 0.5, 0.25, Activation.RELU);
    MultiLayerNetwork net = ModelFactory.create(m, 8, 29);
    FastDenseNet fast = FastDenseNet.of(net, m, 16);
    Random r = new Random(31);
    float[] f = features(r, 16, 8);
    int[] y = labels(r, 16, 4);
    double whole = fast.computeGradient(f, y, 16, new StepKey(SEED, 9, 0)) * 16;
    float[] all = grads(net);
    double first =
        fast.computeGradient(java.util.Arrays.copyOfRange(f, 0, 80), y, 10, new StepKey(SEED, 9, 0))
            * 10;
    float[] sum = grads(net);
    double second =
        fast.computeGradient(
                java.util.Arrays.copyOfRange(f, 80, 128),
                java.util.Arrays.copyOfRange(y, 10, 16),
                6,
                new StepKey(SEED, 9, 10))
            * 6;
    float[] part = grads(net);
    for (int i = 0; i < sum.length; i++) {
      sum[i] += part[i];
    }
    assertEquals(whole, first + second, 1e-4 * whole);
    assertClose(all, sum, GRAD_RTOL, "whole batch against two workers' halves");
    // another step draws other masks
    fast.computeGradient(f, y, 16, new StepKey(SEED, 10, 0));
    assertFalse(java.util.Arrays.equals(all, grads(net)), "step 10 must drop other units");
  }

  @Test
  void refusesWhatItDoesNotCompute() {
    ModelConfig tanh = model(8, 8, 3, 0, 0, Activation.TANH);
    assertFalse(FastDenseNet.supports(tanh));
    MultiLayerNetwork net = ModelFactory.create(tanh, 4, 1);
    assertThrows(IllegalArgumentException.class, () -> FastDenseNet.of(net, tanh, 4));
    ModelConfig ok = model(8, 8, 3, 0, 0, Activation.RELU);
    FastDenseNet fast = FastDenseNet.of(ModelFactory.create(ok, 4, 1), ok, 4);
    assertThrows(
        IllegalArgumentException.class,
        () -> fast.computeGradient(new float[20], new int[5], 5, new StepKey(SEED, 0, 0)));
  }

  /** The same network in double precision with plain loops, masks from the same generator. */
  private static final class Reference {
    final int layers;
    final double[][] w; // w[l][i * nOut + j]
    final double[][] b;
    final int[] nIn;
    final int[] nOut;
    final boolean[] relu;
    final double[] keep;
    float[] gradient;

    Reference(MultiLayerNetwork net, ModelConfig m) {
      layers = m.layers().size();
      w = new double[layers][];
      b = new double[layers][];
      nIn = new int[layers];
      nOut = new int[layers];
      relu = new boolean[layers];
      keep = new double[layers];
      for (int l = 0; l < layers; l++) {
        INDArray wl = net.getLayer(l).getParam("W");
        nIn[l] = (int) wl.size(0);
        nOut[l] = (int) wl.size(1);
        w[l] = new double[nIn[l] * nOut[l]];
        for (int i = 0; i < nIn[l]; i++) {
          for (int j = 0; j < nOut[l]; j++) {
            w[l][i * nOut[l] + j] = wl.getDouble(i, j);
          }
        }
        b[l] = net.getLayer(l).getParam("b").dup().data().asDouble();
        relu[l] = m.layers().get(l).activation() == Activation.RELU;
        keep[l] = 1 - m.layers().get(l).dropout();
      }
    }

    double mask(long step, long example, int layer, int unit) {
      if (keep[layer] >= 1) {
        return 1;
      }
      // KeyedDropout's definition, independently of DropoutMasks
      long seed = new StepKey(SEED, step, (int) example).exampleSeed(0, layer);
      return StepKey.uniform(seed, unit) < keep[layer] ? (float) (1.0 / keep[layer]) : 0f;
    }

    double lossAndGradient(float[] f, int[] y, int rows, long step, long first) {
      double[][] gw = new double[layers][];
      double[][] gb = new double[layers][];
      for (int l = 0; l < layers; l++) {
        gw[l] = new double[w[l].length];
        gb[l] = new double[nOut[l]];
      }
      double loss = 0;
      for (int e = 0; e < rows; e++) {
        double[][] xs = new double[layers][];
        double[][] masks = new double[layers][];
        double[] a = new double[nIn[0]];
        for (int i = 0; i < a.length; i++) {
          a[i] = f[e * nIn[0] + i];
        }
        double[][] pre = new double[layers][];
        for (int l = 0; l < layers; l++) {
          masks[l] = new double[nIn[l]];
          double[] xin = new double[nIn[l]];
          for (int i = 0; i < nIn[l]; i++) {
            masks[l][i] = mask(step, first + e, l, i);
            xin[i] = a[i] * masks[l][i];
          }
          xs[l] = xin;
          double[] zl = new double[nOut[l]];
          for (int j = 0; j < nOut[l]; j++) {
            double s = b[l][j];
            for (int i = 0; i < nIn[l]; i++) {
              s += xin[i] * w[l][i * nOut[l] + j];
            }
            zl[j] = s;
          }
          pre[l] = zl;
          a = new double[nOut[l]];
          for (int j = 0; j < nOut[l]; j++) {
            a[j] = l < layers - 1 && relu[l] ? Math.max(0, zl[j]) : zl[j];
          }
        }
        double[] z = pre[layers - 1];
        double max = java.util.Arrays.stream(z).max().orElseThrow();
        double sum = 0;
        for (double v : z) {
          sum += Math.exp(v - max);
        }
        loss += Math.log(sum) - (z[y[e]] - max);
        double[] d = new double[z.length];
        for (int j = 0; j < z.length; j++) {
          d[j] = Math.exp(z[j] - max) / sum - (j == y[e] ? 1 : 0);
        }
        for (int l = layers - 1; l >= 0; l--) {
          for (int j = 0; j < nOut[l]; j++) {
            gb[l][j] += d[j];
            for (int i = 0; i < nIn[l]; i++) {
              gw[l][i * nOut[l] + j] += xs[l][i] * d[j];
            }
          }
          if (l == 0) {
            break;
          }
          double[] prev = new double[nIn[l]];
          for (int i = 0; i < nIn[l]; i++) {
            double s = 0;
            for (int j = 0; j < nOut[l]; j++) {
              s += d[j] * w[l][i * nOut[l] + j];
            }
            s *= masks[l][i];
            prev[i] = relu[l - 1] && pre[l - 1][i] <= 0 ? 0 : s;
          }
          d = prev;
        }
      }
      // DL4J's flat layout: per layer W column-major (i + j * nIn), then b
      int total = 0;
      for (int l = 0; l < layers; l++) {
        total += w[l].length + nOut[l];
      }
      gradient = new float[total];
      int at = 0;
      for (int l = 0; l < layers; l++) {
        for (int j = 0; j < nOut[l]; j++) {
          for (int i = 0; i < nIn[l]; i++) {
            gradient[at + i + j * nIn[l]] = (float) gw[l][i * nOut[l] + j];
          }
        }
        at += w[l].length;
        for (int j = 0; j < nOut[l]; j++) {
          gradient[at + j] = (float) gb[l][j];
        }
        at += nOut[l];
      }
      return loss / rows;
    }
  }
}
