package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The first block's chunked products ({@link Im2colConv#forwardChunk}, {@link
 * Im2colConv#accumulate}, {@link BatchNormKernel#forwardChunked}, {@link
 * BatchNormKernel#backwardPooled} into the convolution): the convolution's output and weight and
 * bias gradients against a scalar float64 convolution, and the chunked batch-norm passes against
 * the whole-array ones bit for bit, on batches of several chunks with a short last one, and on an
 * image whose pixels per example are no multiple of the batch norm's tile (tiles cut at the chunk
 * boundaries).
 */
class ChunkedFirstBlockTest {
  private static final int K = 3;
  private static final int PAD = 1;

  @Test
  void convolutionMatchesScalarReference() {
    for (int[] s : new int[][] {{28, 8, 12}, {10, 5, 90}, {7, 3, 2}}) {
      int side = s[0];
      int filters = s[1];
      int rows = s[2];
      Random r = new Random(side * 31L + rows);
      float[] x = gaussian(r, rows * side * side);
      INDArray w = Nd4j.create(gaussian(r, filters * K * K), new long[] {filters, 1, K, K}, 'c');
      INDArray b = Nd4j.create(gaussian(r, filters), new long[] {filters}, 'c');
      Im2colConv conv =
          new Im2colConv(1, side, side, K, 1, PAD, filters, side, side, rows, true, true);
      INDArray out = Nd4j.create(DataType.FLOAT, rows, side, side, filters);
      conv.forward(x, rows, w, b, out);
      double[] ref = reference(x, rows, side, filters, w.data().asFloat(), b.data().asFloat());
      assertClose(ref, out.data().asFloat(), 1e-5, "forward " + side + "/" + rows);

      // each chunk's output in the buffer: forward's values for those rows, bit for bit
      float[] all = out.data().asFloat();
      int per = side * side * filters;
      for (int r0 = 0; r0 < rows; r0 += conv.chunkExamples()) {
        int r1 = Math.min(rows, r0 + conv.chunkExamples());
        conv.forwardChunk(r0, r1);
        float[] c = conv.chunkBuffer().data().asFloat();
        for (int i = 0; i < (r1 - r0) * per; i++) {
          assertEquals(
              Float.floatToRawIntBits(all[r0 * per + i]),
              Float.floatToRawIntBits(c[i]),
              "chunk at example " + r0 + ", value " + i);
        }
      }

      float[] g = gaussian(r, rows * per);
      INDArray gOut = Nd4j.create(g, new long[] {rows, side, side, filters}, 'c');
      INDArray dw = Nd4j.create(DataType.FLOAT, filters, 1, K, K);
      INDArray db = Nd4j.create(DataType.FLOAT, filters);
      conv.backward(gOut, dw, db);
      double[][] refGrad = referenceGradient(x, g, rows, side, filters);
      assertClose(refGrad[0], dw.data().asFloat(), 1e-5, "weight gradient");
      assertClose(refGrad[1], db.data().asFloat(), 1e-5, "bias gradient");

      // the same gradient handed over chunk by chunk: the same products, bit for bit
      INDArray dw2 = Nd4j.create(DataType.FLOAT, filters, 1, K, K);
      INDArray db2 = Nd4j.create(DataType.FLOAT, filters);
      for (int r0 = 0; r0 < rows; r0 += conv.chunkExamples()) {
        int r1 = Math.min(rows, r0 + conv.chunkExamples());
        float[] part = new float[(r1 - r0) * per];
        System.arraycopy(g, r0 * per, part, 0, part.length);
        DenseStack.put(conv.chunkBuffer(), part, part.length);
        conv.accumulate(r0, r1);
      }
      conv.finishBackward(dw2, db2);
      FastPooledBackwardTest.assertBits(
          dw.data().asFloat(), dw2.data().asFloat(), "weight gradient by chunks");
      FastPooledBackwardTest.assertBits(
          db.data().asFloat(), db2.data().asFloat(), "bias gradient by chunks");
    }
  }

  @Test
  void chunkedBatchNormMatchesWholeArrayBitForBit() {
    // 28 x 28: chunks of whole tiles; 10 x 10: 100 pixels per example, tiles cut by the chunks
    check(28, 8, 12, true, 1);
    check(10, 5, 90, true, 2);
    check(10, 6, 45, false, 3);
  }

  private static void check(int side, int filters, int rows, boolean relu, long seed) {
    Random r = new Random(seed);
    float[] x = gaussian(r, rows * side * side);
    INDArray w = Nd4j.create(gaussian(r, filters * K * K), new long[] {filters, 1, K, K}, 'c');
    INDArray b = Nd4j.create(gaussian(r, filters), new long[] {filters}, 'c');
    INDArray gamma = Nd4j.create(uniform(r, filters, 0.5f, 1.5f), new long[] {filters}, 'c');
    INDArray beta = Nd4j.create(uniform(r, filters, -0.5f, 0.5f), new long[] {filters}, 'c');
    int plane = side * side;
    Im2colConv conv =
        new Im2colConv(1, side, side, K, 1, PAD, filters, side, side, rows, true, true);
    assertTrue(conv.chunkExamples() < rows, "several chunks");
    INDArray out = Nd4j.create(DataType.FLOAT, rows, side, side, filters);
    conv.forward(x, rows, w, b, out);

    BatchNormKernel whole = new BatchNormKernel(filters, plane, rows, true, 1e-5);
    BatchNormKernel chunked = new BatchNormKernel(filters, plane, rows, true, 1e-5);
    whole.forward(out, null, rows, gamma, beta, relu, false);
    conv.prepare(x, rows, w, b);
    chunked.forwardChunked(conv, rows, gamma, beta, relu);
    FastPooledBackwardTest.assertBits(whole.input(), chunked.input(), "batch norm input");
    FastPooledBackwardTest.assertBits(whole.scale(), chunked.scale(), "scale");
    FastPooledBackwardTest.assertBits(whole.shift(), chunked.shift(), "shift");
    FastPooledBackwardTest.assertBits(whole.mean, chunked.mean, "mean");
    FastPooledBackwardTest.assertBits(whole.var, chunked.var, "variance");

    // backward through a 2 x 2 pooling: into the convolution by chunks against the whole native
    // gradient and the convolution's own backward
    MaxPoolKernel pool = new MaxPoolKernel(filters, side, side, 2, 2, rows, true);
    int outSide = side / 2;
    INDArray pooled = Nd4j.create(DataType.FLOAT, rows, outSide, outSide, filters);
    pool.forward(chunked.input(), chunked.scale(), chunked.shift(), rows, pooled);
    int outputs = rows * outSide * outSide * filters;
    float[] gOut = gaussian(r, outputs);
    INDArray gradOut = Nd4j.create(gOut, new long[] {rows, outSide, outSide, filters}, 'c');
    INDArray gIn = Nd4j.create(DataType.FLOAT, rows, side, side, filters);
    INDArray dg1 = Nd4j.create(DataType.FLOAT, filters);
    INDArray db1 = Nd4j.create(DataType.FLOAT, filters);
    INDArray dw1 = Nd4j.create(DataType.FLOAT, filters, 1, K, K);
    INDArray dc1 = Nd4j.create(DataType.FLOAT, filters);
    pool.backwardInto(chunked, gradOut, null, gIn, dg1, db1, relu, null);
    conv.backward(gIn, dw1, dc1);
    INDArray dg2 = Nd4j.create(DataType.FLOAT, filters);
    INDArray db2 = Nd4j.create(DataType.FLOAT, filters);
    INDArray dw2 = Nd4j.create(DataType.FLOAT, filters, 1, K, K);
    INDArray dc2 = Nd4j.create(DataType.FLOAT, filters);
    INDArray untouched = Nd4j.create(DataType.FLOAT, rows, side, side, filters);
    pool.backwardInto(chunked, gradOut, null, untouched, dg2, db2, relu, conv);
    conv.finishBackward(dw2, dc2);
    FastPooledBackwardTest.assertBits(dg1.data().asFloat(), dg2.data().asFloat(), "gamma gradient");
    FastPooledBackwardTest.assertBits(db1.data().asFloat(), db2.data().asFloat(), "beta gradient");
    FastPooledBackwardTest.assertBits(
        dw1.data().asFloat(), dw2.data().asFloat(), "convolution weight gradient");
    FastPooledBackwardTest.assertBits(
        dc1.data().asFloat(), dc2.data().asFloat(), "convolution bias gradient");
    assertEquals(0.0, untouched.sumNumber().doubleValue(), "the native gradient is not written");
  }

  /** The convolution (1 input channel, k 3, stride 1, padding 1, NHWC output) in float64. */
  private static double[] reference(float[] x, int rows, int side, int f, float[] w, float[] b) {
    double[] out = new double[rows * side * side * f];
    for (int n = 0; n < rows; n++) {
      for (int y = 0; y < side; y++) {
        for (int xx = 0; xx < side; xx++) {
          for (int o = 0; o < f; o++) {
            double s = b[o];
            for (int ky = 0; ky < K; ky++) {
              for (int kx = 0; kx < K; kx++) {
                s +=
                    w[(o * K + ky) * K + kx]
                        * (double) pixel(x, n, side, y + ky - PAD, xx + kx - PAD);
              }
            }
            out[((n * side + y) * side + xx) * f + o] = s;
          }
        }
      }
    }
    return out;
  }

  /** The weight gradient ([f][1][k][k]) and bias gradient of that convolution, in float64. */
  private static double[][] referenceGradient(float[] x, float[] g, int rows, int side, int f) {
    double[] dw = new double[f * K * K];
    double[] db = new double[f];
    for (int n = 0; n < rows; n++) {
      for (int y = 0; y < side; y++) {
        for (int xx = 0; xx < side; xx++) {
          for (int o = 0; o < f; o++) {
            double gv = g[((n * side + y) * side + xx) * f + o];
            db[o] += gv;
            for (int ky = 0; ky < K; ky++) {
              for (int kx = 0; kx < K; kx++) {
                dw[(o * K + ky) * K + kx] += gv * pixel(x, n, side, y + ky - PAD, xx + kx - PAD);
              }
            }
          }
        }
      }
    }
    return new double[][] {dw, db};
  }

  private static float pixel(float[] x, int n, int side, int y, int xx) {
    return y < 0 || y >= side || xx < 0 || xx >= side ? 0f : x[(n * side + y) * side + xx];
  }

  private static float[] gaussian(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  private static float[] uniform(Random r, int n, float lo, float hi) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = lo + (hi - lo) * r.nextFloat();
    }
    return v;
  }

  /** Each value within {@code rel} of the reference, relative to the reference's largest value. */
  private static void assertClose(double[] expected, float[] actual, double rel, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    double scale = 0;
    for (double e : expected) {
      scale = Math.max(scale, Math.abs(e));
    }
    assertTrue(scale > 0, what + ": reference all zero");
    for (int i = 0; i < expected.length; i++) {
      assertTrue(
          Math.abs(expected[i] - actual[i]) <= rel * scale,
          what + " at " + i + ": expected " + expected[i] + ", got " + actual[i]);
    }
  }
}
