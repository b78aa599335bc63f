package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The pooled batch-norm backward ({@link BatchNormKernel#backwardPooled}) with the pooled inputs
 * stored by the pooling's forward against the same backward gathering them from the whole input
 * (the order before the stored copy): the input gradient (heap and native) and the gamma and beta
 * gradients bit for bit, for 2 x 2 windows (the unrolled forward) and 3 x 3 (the general one), with
 * and without a ReLU before, on inputs with many ties.
 */
class FastPooledBackwardTest {

  @Test
  void twoByTwoWindowsMatchTheGatherBitForBit() {
    check(32, 8, 10, 2, 5, true, 11);
    check(32, 8, 10, 2, 5, false, 12);
    check(3, 6, 6, 2, 4, true, 13);
  }

  @Test
  void generalWindowsMatchTheGatherBitForBit() {
    check(5, 9, 9, 3, 3, true, 14);
    check(16, 6, 9, 3, 2, false, 15);
  }

  private static void check(
      int channels, int h, int w, int k, int rows, boolean reluInput, long seed) {
    Random r = new Random(seed);
    int n = rows * h * w * channels;
    float[] in = new float[n];
    for (int i = 0; i < n; i++) {
      // few distinct values: ties in the windows, zeros after the ReLU
      in[i] = r.nextInt(4) == 0 ? (r.nextInt(7) - 3) * 0.5f : (float) r.nextGaussian();
    }
    INDArray input = Nd4j.create(in, new long[] {rows, h, w, channels}, 'c');
    float[] g = new float[channels];
    float[] b = new float[channels];
    for (int c = 0; c < channels; c++) {
      g[c] = 0.5f + r.nextFloat();
      b[c] = r.nextFloat() - 0.5f;
    }
    INDArray gamma = Nd4j.createFromArray(g);
    INDArray beta = Nd4j.createFromArray(b);
    BatchNormKernel bn = new BatchNormKernel(channels, h * w, rows, true, 1e-5);
    MaxPoolKernel pool = new MaxPoolKernel(channels, h, w, k, k, rows, true);
    bn.forward(input, null, rows, gamma, beta, reluInput, false);
    int outH = (h - k) / k + 1;
    int outW = (w - k) / k + 1;
    int outputs = rows * outH * outW * channels;
    INDArray pooled = Nd4j.create(DataType.FLOAT, rows, outH, outW, channels);
    pool.forward(bn.input(), bn.scale(), bn.shift(), rows, pooled);

    int[] argmax = pool.argmax();
    float[] stored = pool.pooledInput();
    for (int o = 0; o < outputs; o++) {
      assertEquals(
          Float.floatToRawIntBits(bn.input()[argmax[o]]),
          Float.floatToRawIntBits(stored[o]),
          "stored pooled input at output " + o);
    }

    float[] gOut = new float[outputs];
    for (int o = 0; o < outputs; o++) {
      gOut[o] = (float) r.nextGaussian();
    }
    for (boolean heap : new boolean[] {true, false}) {
      float[] gStored = new float[n];
      float[] gGather = new float[n];
      INDArray nStored = heap ? null : Nd4j.create(DataType.FLOAT, rows, h, w, channels);
      INDArray nGather = heap ? null : Nd4j.create(DataType.FLOAT, rows, h, w, channels);
      INDArray dgS = Nd4j.create(DataType.FLOAT, channels);
      INDArray dbS = Nd4j.create(DataType.FLOAT, channels);
      INDArray dgG = Nd4j.create(DataType.FLOAT, channels);
      INDArray dbG = Nd4j.create(DataType.FLOAT, channels);
      bn.backwardPooled(
          gOut.clone(), argmax, stored, outputs, gStored, nStored, dgS, dbS, reluInput, null);
      bn.backwardPooled(
          gOut.clone(), argmax, null, outputs, gGather, nGather, dgG, dbG, reluInput, null);
      if (!heap) {
        gStored = nStored.data().asFloat();
        gGather = nGather.data().asFloat();
      }
      assertBits(gGather, gStored, "input gradient (heap " + heap + ")");
      assertBits(dgG.data().asFloat(), dgS.data().asFloat(), "gamma gradient");
      assertBits(dbG.data().asFloat(), dbS.data().asFloat(), "beta gradient");
    }
  }

  /** Bit for bit, and not vacuously: some expected value is non-zero. */
  static void assertBits(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    int nonZero = 0;
    for (int i = 0; i < expected.length; i++) {
      assertEquals(
          Float.floatToRawIntBits(expected[i]),
          Float.floatToRawIntBits(actual[i]),
          what + " at " + i + ": " + expected[i] + " vs " + actual[i]);
      nonZero += expected[i] != 0 ? 1 : 0;
    }
    assertEquals(true, nonZero > 0, what + ": all zero, the comparison would be empty");
  }
}
