package io.spindle.model.fast;

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
import java.util.TreeMap;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What the CNN's evaluator ({@link FastConvNet#forEvaluation}) allocates for slices of {@value
 * #SLICE} examples of deploy/examples/mnist-cnn.yaml's network, against a training instance for the
 * same batch: every heap array and native buffer reachable from the instance through the fast
 * kernels' own classes, each buffer counted once, the network's parameter and gradient vectors
 * (which the kernels only view) left out.
 */
class EvaluatorBuffersTest {
  static final int SLICE = 200; // Dl4jReplica.EVAL_SLICE

  @Test
  void reportsTheEvaluatorsBuffers() {
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
