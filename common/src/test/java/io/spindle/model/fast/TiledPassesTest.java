package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The channels-last batch norm's and the ReLU's tiled passes on native arrays:
 *
 * <ul>
 *   <li>a training batch norm given native arrays (the forward's output written straight to native
 *       memory; the backward's tiles read from the output's gradient and written to the input's)
 *       computes what the same kernel computes through its heap forms ({@code output()}, {@code
 *       backward(float[], ...)}), bit for bit: output, input gradient, gamma and beta gradients;
 *   <li>its following ReLU's backward (the branch-free mask) equals the mask taken with a branch
 *       and handed to a kernel without the ReLU;
 *   <li>{@link ReluKernel} equals libnd4j's {@code relu} and {@code relu_bp} on views at an offset,
 *       over lengths that end inside a tile, zeros of both signs and subnormals included; its fused
 *       add and relu equals libnd4j's {@code add}, {@code relu} and {@code relu_bp} one after the
 *       other, the gradients written or added to what the inputs' arrays hold.
 * </ul>
 */
class TiledPassesTest {

  @Test
  void batchNormOnNativeArraysEqualsItsHeapFormsBitForBit() {
    // channels 3 and 40 leave a tile's end inside a run; 4 rows of 7 x 5 pixels
    for (int channels : new int[] {3, 16, 40}) {
      for (boolean reluOut : new boolean[] {false, true}) {
        for (boolean reluIn : new boolean[] {false, true}) {
          check(
              channels,
              35,
              4,
              reluOut,
              reluIn,
              31L * channels + (reluOut ? 2 : 0) + (reluIn ? 1 : 0));
        }
      }
    }
    // more values than a run of tiles (TILES_PER_RUN x TILE_PIXELS pixels)
    check(16, 32 * 32, 3, true, false, 7);
  }

  private static void check(
      int channels, int pixels, int rows, boolean reluOut, boolean reluIn, long seed) {
    Random r = new Random(seed);
    int n = rows * pixels * channels;
    // the arrays are views one example into larger ones, so that their offsets are not 0
    INDArray input = view(r, rows, pixels * channels, true);
    INDArray gradOut = view(r, rows, pixels * channels, false);
    INDArray gamma = Nd4j.create(DataType.FLOAT, channels);
    INDArray beta = Nd4j.create(DataType.FLOAT, channels);
    for (int c = 0; c < channels; c++) {
      gamma.putScalar(c, 0.5 + r.nextDouble());
      beta.putScalar(c, r.nextDouble() - 0.5);
    }
    BatchNormKernel nat = new BatchNormKernel(channels, pixels, rows, true, 1e-5, reluOut);
    BatchNormKernel heap = new BatchNormKernel(channels, pixels, rows, true, 1e-5, reluOut);
    INDArray out = Nd4j.create(DataType.FLOAT, rows + 1, pixels * channels).get(rows(1, rows));
    nat.forward(input, out, rows, gamma, beta, reluIn);
    heap.forward(input, null, rows, gamma, beta, reluIn);
    float[] y = values(out);
    for (int i = 0; i < n; i++) {
      assertEquals(bits(heap.output()[i]), bits(y[i]), "output " + i);
    }

    INDArray gradIn = Nd4j.create(DataType.FLOAT, rows + 1, pixels * channels).get(rows(1, rows));
    INDArray dGammaN = Nd4j.create(DataType.FLOAT, channels);
    INDArray dBetaN = Nd4j.create(DataType.FLOAT, channels);
    INDArray dGammaH = Nd4j.create(DataType.FLOAT, channels);
    INDArray dBetaH = Nd4j.create(DataType.FLOAT, channels);
    float[] g = values(gradOut);
    nat.backward(gradOut, gradIn, dGammaN, dBetaN, reluIn);
    heap.backward(g, null, dGammaH, dBetaH, reluIn);
    float[] dx = values(gradIn);
    for (int i = 0; i < n; i++) {
      assertEquals(bits(g[i]), bits(dx[i]), "input gradient " + i);
    }
    for (int c = 0; c < channels; c++) {
      assertEquals(bits(dGammaH.getFloat(c)), bits(dGammaN.getFloat(c)), "dgamma " + c);
      assertEquals(bits(dBetaH.getFloat(c)), bits(dBetaN.getFloat(c)), "dbeta " + c);
    }

    if (reluOut) {
      // the mask with a branch, given to a kernel without the ReLU: the same gradients
      BatchNormKernel plain = new BatchNormKernel(channels, pixels, rows, true, 1e-5, false);
      plain.forward(input, null, rows, gamma, beta, reluIn);
      float[] x = plain.input();
      float[] masked = values(gradOut);
      for (int i = 0; i < n; i++) {
        int c = i % channels;
        masked[i] = x[i] * plain.scale()[c] + plain.shift()[c] > 0f ? masked[i] : 0f;
      }
      INDArray dGammaP = Nd4j.create(DataType.FLOAT, channels);
      INDArray dBetaP = Nd4j.create(DataType.FLOAT, channels);
      plain.backward(masked, null, dGammaP, dBetaP, reluIn);
      for (int i = 0; i < n; i++) {
        assertEquals(masked[i] + 0f, dx[i] + 0f, "masked input gradient " + i);
      }
      for (int c = 0; c < channels; c++) {
        assertEquals(dGammaP.getFloat(c), dGammaN.getFloat(c), "masked dgamma " + c);
        assertEquals(dBetaP.getFloat(c), dBetaN.getFloat(c), "masked dbeta " + c);
      }
    }
  }

  @Test
  void reluKernelEqualsLibnd4jsOps() {
    Random r = new Random(3);
    int per = 1000;
    int rows = (3 * ReluKernel.TILE + 17 + per - 1) / per;
    INDArray in = view(r, rows, per, true);
    INDArray g = view(r, rows, per, false);
    int n = rows * per;
    // zeros of both signs and subnormals where a branch and the arithmetic could part
    in.putScalar(new long[] {0, 0}, -0.0f);
    in.putScalar(new long[] {0, 1}, 0.0f);
    in.putScalar(new long[] {0, 2}, Float.MIN_VALUE);
    in.putScalar(new long[] {0, 3}, -Float.MIN_VALUE);
    in.putScalar(new long[] {0, 4}, Float.MIN_NORMAL);
    INDArray mine = Nd4j.create(DataType.FLOAT, rows + 1, per).get(rows(1, rows));
    INDArray theirs = Nd4j.create(DataType.FLOAT, rows, per);
    ReluKernel kernel = new ReluKernel();

    kernel.forward(in, mine, n);
    libnd4j("relu", theirs, in);
    float[] a = values(mine);
    float[] b = values(theirs);
    for (int i = 0; i < n; i++) {
      assertEquals(b[i] + 0f, a[i] + 0f, "relu " + i);
    }

    kernel.backward(in, g, mine, n);
    libnd4j("relu_bp", theirs, in, g);
    a = values(mine);
    b = values(theirs);
    for (int i = 0; i < n; i++) {
      assertEquals(b[i] + 0f, a[i] + 0f, "relu_bp " + i);
    }
  }

  @Test
  void fusedAddAndReluEqualLibnd4jsOpsOneAfterTheOther() {
    Random r = new Random(4);
    int per = 900;
    int rows = 5; // 4,500 values: a tile and a part
    int n = rows * per;
    INDArray a = view(r, rows, per, true);
    INDArray b = view(r, rows, per, true);
    b.putScalar(new long[] {0, 0}, -a.getFloat(0, 0)); // a sum of exactly 0
    INDArray g = view(r, rows, per, false);
    ReluKernel kernel = new ReluKernel();
    INDArray y = Nd4j.create(DataType.FLOAT, rows + 1, per).get(rows(1, rows));
    kernel.addForward(a, b, y, n);
    INDArray sum = a.add(b);
    INDArray expected = Nd4j.create(DataType.FLOAT, rows, per);
    libnd4j("relu", expected, sum);
    float[] mine = values(y);
    float[] theirs = values(expected);
    for (int i = 0; i < n; i++) {
      assertEquals(theirs[i] + 0f, mine[i] + 0f, "add + relu " + i);
    }

    INDArray masked = Nd4j.create(DataType.FLOAT, rows, per);
    libnd4j("relu_bp", masked, sum, g);
    float[] m = values(masked);
    for (boolean addA : new boolean[] {false, true}) {
      INDArray gradA = view(r, rows, per, false);
      INDArray gradB = view(r, rows, per, false);
      float[] beforeA = values(gradA);
      float[] beforeB = values(gradB);
      boolean addB = !addA;
      kernel.addBackward(y, g, gradA, addA, gradB, addB, n);
      float[] da = values(gradA);
      float[] db = values(gradB);
      for (int i = 0; i < n; i++) {
        assertEquals((addA ? beforeA[i] + m[i] : m[i]) + 0f, da[i] + 0f, "gradient a " + i);
        assertEquals((addB ? beforeB[i] + m[i] : m[i]) + 0f, db[i] + 0f, "gradient b " + i);
      }
    }
  }

  /** Rows 1..rows of a fresh [rows + 1, per] array of Gaussian values (withZeros: a fifth 0). */
  private static INDArray view(Random r, int rows, int per, boolean withZeros) {
    INDArray a = Nd4j.create(DataType.FLOAT, rows + 1, per);
    for (int i = 0; i < rows + 1; i++) {
      for (int j = 0; j < per; j++) {
        double v = r.nextGaussian();
        a.putScalar(new long[] {i, j}, withZeros && r.nextInt(5) == 0 ? 0.0 : v);
      }
    }
    return a.get(rows(1, rows));
  }

  private static org.nd4j.linalg.indexing.INDArrayIndex rows(int from, int count) {
    return NDArrayIndex.interval(from, from + count);
  }

  /** libnd4j's {@code op} (threshold 0) from {@code in} into {@code out}. */
  private static void libnd4j(String op, INDArray out, INDArray... in) {
    Nd4j.exec(
        DynamicCustomOp.builder(op)
            .addInputs(in)
            .addOutputs(out)
            .addFloatingPointArguments(0.0)
            .build());
  }

  /** The values of {@code a} (a view's, in order). */
  private static float[] values(INDArray a) {
    return a.dup().data().asFloat();
  }

  private static int bits(float v) {
    return Float.floatToRawIntBits(v);
  }
}
