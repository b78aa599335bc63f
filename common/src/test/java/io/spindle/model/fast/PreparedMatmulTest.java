package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.model.ModelFactory;
import io.spindle.model.StepKey;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A prepared product ({@link PreparedMatmul}, and {@link DenseStack#matmul} through it) gives the
 * bits of {@code Nd4j.exec} of a freshly built matmul op on the same arrays: every transpose
 * combination, float32 and bf16, whole arrays and row views (an epoch's short last batch), and it
 * reads its operands' current values on every run (the step rewrites them in place).
 */
class PreparedMatmulTest {

  private static void fill(INDArray a, Random r) {
    float[] v = new float[(int) a.length()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) r.nextGaussian();
    }
    a.assign(Nd4j.createFromArray(v).reshape(a.shape()).castTo(a.dataType()));
  }

  private static int[] bits(INDArray a) {
    float[] f = a.castTo(DataType.FLOAT).dup().data().asFloat();
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToRawIntBits(f[i]);
    }
    return b;
  }

  /** What the fast paths ran before: {@code Nd4j.exec} of a freshly built op. */
  private static void fresh(INDArray a, INDArray b, INDArray out, boolean transA, boolean transB) {
    Nd4j.exec(
        DynamicCustomOp.builder("matmul")
            .addInputs(a, b)
            .addOutputs(out)
            .addIntegerArguments(transA ? 1 : 0, transB ? 1 : 0, 0)
            .build());
  }

  /** {@code op(a) op(b)} of shapes (m x k) (k x n) for the transposes given. */
  private static void check(DataType type, boolean transA, boolean transB, int m, int k, int n) {
    Random r = new Random(31L * m + k + (transA ? 7 : 0) + (transB ? 13 : 0));
    // a and out are row views of larger arrays, as DenseStack's x[l], z[l] on a short batch
    int aRows = transA ? k : m;
    INDArray a = DenseStack.rowsOf(Nd4j.create(type, aRows + 5, transA ? m : k), aRows);
    INDArray b = transB ? Nd4j.create(type, n, k) : Nd4j.create(type, k, n);
    INDArray out = Nd4j.create(type, m + 5, n);
    INDArray outRows = DenseStack.rowsOf(out, m);
    INDArray expected = Nd4j.create(type, m, n);
    try (PreparedMatmul p = new PreparedMatmul(a, b, outRows, transA, transB)) {
      assertTrue(p.on(a, b, outRows));
      for (int run = 0; run < 3; run++) {
        fill(a, r);
        fill(b, r);
        fresh(a, b, expected, transA, transB);
        p.run();
        assertArrayEquals(
            bits(expected),
            bits(outRows),
            type + " transA=" + transA + " transB=" + transB + " run " + run);
        INDArray once = Nd4j.create(type, m, n);
        DenseStack.matmul(a, b, once, transA, transB);
        assertArrayEquals(bits(expected), bits(once), "DenseStack.matmul, run " + run);
      }
    }
  }

  @Test
  void givesTheBitsOfTheFreshOpOnEveryTransposeAndType() {
    for (DataType type : new DataType[] {DataType.FLOAT, DataType.BFLOAT16}) {
      for (boolean ta : new boolean[] {false, true}) {
        for (boolean tb : new boolean[] {false, true}) {
          check(type, ta, tb, 128, 784, 80); // whole batch
          check(type, ta, tb, 48, 80, 80); // an epoch's short last batch, on row views
          check(type, ta, tb, 1, 33, 10);
        }
      }
    }
  }

  @Test
  void aBadProductSaysWhatFailed() {
    INDArray a = Nd4j.create(DataType.FLOAT, 4, 3);
    INDArray b = Nd4j.create(DataType.FLOAT, 5, 2);
    INDArray out = Nd4j.create(DataType.FLOAT, 4, 2);
    try (PreparedMatmul p = new PreparedMatmul(a, b, out, false, false)) {
      RuntimeException e = assertThrows(RuntimeException.class, p::run);
      assertTrue(e.getMessage().contains("[4, 3] x [5, 2]"), e.getMessage());
    }
  }

  @Test
  void aStacksGradientIsTheSameBitsWhateverRowCountsRanBefore() {
    // the stack keeps its products for the full batch and for the last other row count: a short
    // batch between full ones (an epoch's last) must not change any later pass
    ModelConfig m =
        new ModelConfig(
            List.of(
                new LayerConfig(LayerType.DENSE, 24, Activation.RELU, 0.0, null),
                new LayerConfig(LayerType.DENSE, 16, Activation.RELU, 0.3, null),
                new LayerConfig(LayerType.OUTPUT, 5, Activation.SOFTMAX, 0.2, Loss.CROSS_ENTROPY)),
            WeightInit.HE_NORMAL,
            0.0,
            0.0,
            Precision.FLOAT32);
    MultiLayerNetwork reused = ModelFactory.create(m, 20, 3);
    FastDenseNet stack = FastDenseNet.of(reused, m, 32);
    Random r = new Random(9);
    int step = 0;
    for (int rows : new int[] {32, 7, 32, 7, 3, 32}) {
      float[] f = new float[rows * 20];
      for (int i = 0; i < f.length; i++) {
        f[i] = r.nextFloat();
      }
      int[] y = new int[rows];
      for (int i = 0; i < rows; i++) {
        y[i] = r.nextInt(5);
      }
      StepKey key = new StepKey(42, step++, 0);
      MultiLayerNetwork fresh = ModelFactory.create(m, 20, 3);
      double expected = FastDenseNet.of(fresh, m, 32).computeGradient(f, y, rows, key);
      double loss = stack.computeGradient(f, y, rows, key);
      assertEquals(
          Double.doubleToLongBits(expected), Double.doubleToLongBits(loss), "rows " + rows);
      assertArrayEquals(
          bits(fresh.getFlattenedGradients()),
          bits(reused.getFlattenedGradients()),
          "gradient, " + rows + " rows");
    }
  }
}
