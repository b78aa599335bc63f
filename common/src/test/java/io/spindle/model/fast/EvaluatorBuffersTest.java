package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.ModelConfig;
import io.spindle.model.ModelFactory;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The evaluators ({@link FastConvNet#forEvaluation}, {@link FastDenseNet#forEvaluation}) hold the
 * forward pass's buffers only, and their inference kernels compute what the training kernels'
 * forward computes, bit for bit.
 *
 * <p>Bytes: every heap array and native buffer reachable from an instance through the fast kernels'
 * own classes, each buffer counted once, the network's parameter and gradient vectors (which the
 * kernels only view) left out; printed for deploy/examples/mnist-cnn.yaml's and
 * mnist-mlp-800.yaml's networks at {@value #SLICE} examples (an evaluation slice) for the evaluator
 * and a training instance.
 */
class EvaluatorBuffersTest {
  static final int SLICE = 200; // Dl4jReplica.EVAL_SLICE

  /** Fields (last name, without an index) that only a backward pass uses. */
  static final Set<String> BACKWARD_ONLY =
      Set.of(
          "grad",
          "scratch",
          "inputGrad",
          "hFlatGrad",
          "pooledGrad", // FastConvNet
          "argmax",
          "pooledIn",
          "gradIn",
          "gradOut", // MaxPoolKernel
          "delta",
          "g",
          "hdb", // DenseStack
          "work",
          "part",
          "part2",
          "gt",
          "dt",
          "aT",
          "bxT",
          "ccT", // BatchNormKernel
          "dw",
          "acc"); // Im2colConv

  @Test
  void cnnEvaluatorHoldsNoBackwardBuffer() {
    ModelConfig m =
        ConfigLoader.load(Path.of("..", "deploy", "examples", "mnist-cnn.yaml"), List.of()).model();
    MultiLayerNetwork net = ModelFactory.create(m, 784, 1);
    FastConvNet train = FastConvNet.of(net, m, 784, SLICE, true);
    FastConvNet eval = FastConvNet.forEvaluation(net, m, 784, SLICE);
    Sizes t = Sizes.of(train, net);
    Sizes e = Sizes.of(eval, net);
    System.out.printf(
        "EvaluatorBuffersTest: mnist-cnn at %d examples: training instance %,d bytes, evaluator"
            + " %,d bytes%n",
        SLICE, t.total, e.total);
    e.byField.forEach((k, v) -> System.out.printf("  evaluator %-40s %,14d%n", k, v));
    assertHoldsNoBackwardBuffer(e);
    assertTrue(t.byField.containsKey("FastConvNet.dense.g[0]"), "training's input gradient");
    assertTrue(t.byField.containsKey("FastConvNet.dense.delta[0]"), "training's deltas");
    // the outputs the forward writes: the first pooling's and the second convolution's; the first
    // convolution's runs chunk by chunk, the batch norms' go to the poolings on the heap, the last
    // pooling writes the dense part's features
    assertEquals(
        List.of("FastConvNet.act[2]", "FastConvNet.act[3]"),
        e.byField.keySet().stream().filter(k -> k.startsWith("FastConvNet.act")).toList());
    assertFalse(e.byField.containsKey("FastConvNet.flat"), "the evaluator holds the unused flat");
    assertTrue(t.byField.containsKey("FastConvNet.grad[0]"), "the walk finds training's buffers");
  }

  @Test
  void denseEvaluatorHoldsNoBackwardBufferAndDoesNotTrain() {
    ModelConfig m =
        ConfigLoader.load(Path.of("..", "deploy", "examples", "mnist-mlp-800.yaml"), List.of())
            .model();
    MultiLayerNetwork net = ModelFactory.create(m, 784, 1);
    FastDenseNet train = FastDenseNet.of(net, m, SLICE);
    FastDenseNet eval = FastDenseNet.forEvaluation(net, m, SLICE);
    Sizes t = Sizes.of(train, net);
    Sizes e = Sizes.of(eval, net);
    System.out.printf(
        "EvaluatorBuffersTest: mnist-mlp-800 at %d examples: training instance %,d bytes,"
            + " evaluator %,d bytes%n",
        SLICE, t.total, e.total);
    assertHoldsNoBackwardBuffer(e);
    assertTrue(t.byField.containsKey("FastDenseNet.stack.delta[0]"), "the walk finds training's");
    assertTrue(t.byField.containsKey("FastDenseNet.stack.g[1]"), "the walk finds training's");
    assertTrue(e.total < t.total, "the evaluator holds less than a training instance");
    float[] features = new float[SLICE * 784];
    int[] labels = new int[SLICE];
    IllegalStateException refused =
        assertThrows(
            IllegalStateException.class,
            () ->
                eval.computeGradient(
                    features, labels, SLICE, new io.spindle.model.StepKey(1, 0, 0)));
    assertTrue(refused.getMessage().contains("does not train"), refused.getMessage());
  }

  /** Fails on any field of {@code e} whose last name is in {@link #BACKWARD_ONLY}. */
  static void assertHoldsNoBackwardBuffer(Sizes e) {
    for (String field : e.byField.keySet()) {
      String name = field.substring(field.lastIndexOf('.') + 1).replaceAll("\\[\\d+\\]$", "");
      assertFalse(BACKWARD_ONLY.contains(name), "the evaluator holds a backward buffer: " + field);
    }
  }

  @Test
  void inferencePoolingEqualsTrainingPoolingBitForBit() {
    Random r = new Random(3);
    int channels = 5;
    int side = 9;
    int rows = 3;
    for (int[] ks : new int[][] {{2, 2}, {3, 2}, {3, 3}}) {
      int k = ks[0];
      int stride = ks[1];
      int out = (side - k) / stride + 1;
      float[] in = new float[rows * side * side * channels];
      for (int i = 0; i < in.length; i++) {
        in[i] = r.nextInt(7) - 3; // ties, and zeros of both signs after the shift
      }
      float[] scale = new float[channels];
      float[] shift = new float[channels];
      for (int c = 0; c < channels; c++) {
        scale[c] = c == 0 ? 0f : r.nextFloat() * 2 - 1;
        shift[c] = c == 1 ? 0f : r.nextFloat() - 0.5f;
      }
      MaxPoolKernel train = new MaxPoolKernel(channels, side, side, k, stride, rows, true);
      MaxPoolKernel infer = MaxPoolKernel.forInference(channels, side, side, k, stride, rows);
      assertNull(infer.argmax(), "an inference pooling records no arg-max");
      assertNull(infer.pooledInput(), "an inference pooling records no pooled input");
      int n = rows * out * out * channels;
      INDArray a = Nd4j.create(DataType.FLOAT, n);
      INDArray b = Nd4j.create(DataType.FLOAT, n);
      train.forward(in, scale, shift, rows, a);
      infer.forward(in, scale, shift, rows, b);
      assertArrayEquals(
          bits(a.toFloatVector()), bits(b.toFloatVector()), "k " + k + ", s " + stride);
      float[] fa = new float[n];
      float[] fb = new float[n];
      train.forwardFlat(in, scale, shift, rows, fa);
      infer.forwardFlat(in, scale, shift, rows, fb);
      assertArrayEquals(bits(fa), bits(fb), "flat, k " + k + ", s " + stride);
      assertThrows(IllegalStateException.class, () -> infer.backwardFlat(fb));
    }
  }

  @Test
  void inferenceBatchNormWritesItsOutputOverItsInputCopy() {
    Random r = new Random(5);
    int channels = 4;
    int pixels = 6;
    int rows = 3;
    int n = rows * pixels * channels;
    INDArray in = uniform(r, n, -1, 1);
    INDArray gamma = uniform(r, channels, 0.5, 1.5);
    INDArray beta = uniform(r, channels, -0.5, 0.5);
    INDArray mean = uniform(r, channels, -0.5, 0.5);
    INDArray var = uniform(r, channels, 0.1, 1);
    BatchNormKernel bn =
        BatchNormKernel.forInference(channels, pixels, rows, true, 1e-5, mean, var, false);
    INDArray out = Nd4j.create(DataType.FLOAT, n);
    bn.forward(in, out, rows, gamma, beta, false);
    float[] x = in.toFloatVector();
    float[] y = out.toFloatVector();
    assertSame(bn.input(), bn.output(), "an inference batch norm's output is its input copy");
    for (int i = 0; i < n; i++) {
      int c = i % channels;
      float expected = x[i] * bn.scale()[c] + bn.shift()[c];
      assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(y[i]), "entry " + i);
      assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(bn.output()[i]));
    }
    float[] m = mean.toFloatVector();
    float[] v = var.toFloatVector();
    for (int c = 0; c < channels; c++) {
      double s = 1 / Math.sqrt(v[c] + 1e-5);
      assertEquals((float) (gamma.getFloat(c) * s), bn.scale()[c], "the running statistics' scale");
      assertEquals(
          (float) (beta.getFloat(c) - (double) m[c] * gamma.getFloat(c) * s), bn.shift()[c]);
    }
    assertThrows(
        IllegalStateException.class,
        () -> bn.backward(new float[n], null, gamma.dup(), beta.dup(), false));
  }

  private static INDArray uniform(Random r, int n, double lo, double hi) {
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = (float) (lo + (hi - lo) * r.nextDouble());
    }
    return Nd4j.createFromArray(f);
  }

  private static int[] bits(float[] f) {
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToIntBits(f[i]);
    }
    return b;
  }

  /** Bytes reachable from an instance, by the field that first reaches each buffer. */
  static final class Sizes {
    long total;
    final Map<String, Long> byField = new TreeMap<>();
    private final IdentityHashMap<Object, Boolean> seen = new IdentityHashMap<>();

    static Sizes of(Object root, MultiLayerNetwork net) {
      Sizes s = new Sizes();
      s.seen.put(buffer(net.params()), true);
      s.seen.put(buffer(net.getFlattenedGradients()), true);
      s.walk(root, root.getClass().getSimpleName());
      return s;
    }

    private static DataBuffer buffer(INDArray a) {
      DataBuffer d = a.data();
      return d.originalDataBuffer() != null ? d.originalDataBuffer() : d;
    }

    private void add(String where, long bytes) {
      total += bytes;
      byField.merge(where, bytes, Long::sum);
    }

    private void walk(Object o, String where) {
      if (o == null) {
        return;
      }
      if (o instanceof INDArray a) {
        DataBuffer d = buffer(a);
        if (seen.put(d, true) == null) {
          add(where, d.length() * d.getElementSize());
        }
        return;
      }
      if (seen.put(o, true) != null) {
        return;
      }
      Class<?> c = o.getClass();
      if (c.isArray()) {
        Class<?> e = c.getComponentType();
        int n = Array.getLength(o);
        if (e.isPrimitive()) {
          add(where, (long) n * primitiveBytes(e));
        } else {
          for (int i = 0; i < n; i++) {
            walk(Array.get(o, i), where + "[" + i + "]");
          }
        }
        return;
      }
      if (!c.getName().startsWith("io.spindle.model.fast.")) {
        return;
      }
      for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
        for (Field f : k.getDeclaredFields()) {
          if (Modifier.isStatic(f.getModifiers()) || f.isSynthetic()) {
            continue;
          }
          f.setAccessible(true);
          try {
            walk(f.get(o), where + "." + f.getName());
          } catch (IllegalAccessException ex) {
            throw new AssertionError(ex);
          }
        }
      }
    }

    private static int primitiveBytes(Class<?> e) {
      if (e == long.class || e == double.class) {
        return 8;
      }
      if (e == int.class || e == float.class) {
        return 4;
      }
      if (e == short.class || e == char.class) {
        return 2;
      }
      return 1;
    }
  }
}
