package io.spindle.model.fast;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The first convolution of {@link FastConvNet} when its input has few channels (an image of 1 to 3
 * channels): as one matrix product over the input's patches, with no gradient for the input.
 *
 * <p>oneDNN's kernels are slow for one input channel (measured on one core, 64 x 1 x 28 x 28 into
 * 32 channels, 3 x 3: forward 1.2 ms, backward 6.6 ms, of which 3.5 ms compute the input's
 * gradient, which training never uses). Here: the patches {@code X} (pixels x (k k C + 1), the last
 * column ones) are built once per step from the features in Java, transposed ({@code X^T}: one row
 * per kernel tap, so that with stride 1 each output row's values are one copy from the padded
 * image), the weights {@code W} ((k k C + 1) x filters, the last row the bias) from DL4J's
 * [filters, C, k, k] weights; forward {@code Z = X W} is the output in NHWC order directly;
 * backward {@code dW = X^T dZ} gives the weight and bias gradients in one product.
 */
final class Im2colConv {
  private final int inC;
  private final int inH;
  private final int inW;
  private final int k;
  private final int stride;
  private final int pad;
  private final int outC;
  private final int outH;
  private final int outW;
  private final int width; // k k C + 1
  // the patches transposed, X^T (width x pixels of the batch), in the first width * pixels values
  private final INDArray patches;
  private final float[] hPatches;
  private final float[] padded; // one example, zero-padded: C x (H + 2 pad) x (W + 2 pad)
  private final INDArray w; // width x outC
  private final INDArray dw;
  private final float[] hw;
  private final float[] hWeights;
  private int rows;

  Im2colConv(
      int inC,
      int inH,
      int inW,
      int k,
      int stride,
      int pad,
      int outC,
      int outH,
      int outW,
      int maxBatch) {
    this.inC = inC;
    this.inH = inH;
    this.inW = inW;
    this.k = k;
    this.stride = stride;
    this.pad = pad;
    this.outC = outC;
    this.outH = outH;
    this.outW = outW;
    this.width = k * k * inC + 1;
    int pixels = maxBatch * outH * outW;
    patches = Nd4j.create(DataType.FLOAT, (long) pixels * width);
    hPatches = new float[pixels * width];
    padded = new float[inC * (inH + 2 * pad) * (inW + 2 * pad)];
    w = Nd4j.create(DataType.FLOAT, width, outC);
    dw = Nd4j.create(DataType.FLOAT, width, outC);
    hw = new float[width * outC];
    hWeights = new float[outC * (width - 1)];
  }

  /** The convolution {@code c} from images of {C, H, W} {@code in} to {C, H, W} {@code out}. */
  static Im2colConv of(int[] in, io.spindle.config.LayerConfig c, int[] out, int maxBatch) {
    return new Im2colConv(
        in[0], in[1], in[2], c.kernel(), c.stride(), c.padding(), out[0], out[1], out[2], maxBatch);
  }

  /** Whether a layer qualifies: first layer, few input channels. */
  static boolean suits(int inC, int k) {
    return inC * k * k <= 32;
  }

  /**
   * {@code out} (rows x outH x outW x outC) = the convolution of {@code features} (rows x C x H x
   * W, DL4J's order) with {@code weights} ([outC, C, k, k]) plus {@code bias} (null: none).
   */
  void forward(float[] features, int rows, INDArray weights, INDArray bias, INDArray out) {
    this.rows = rows;
    int per = inC * inH * inW;
    int padH = inH + 2 * pad;
    int padW = inW + 2 * pad;
    int n = rows * outH * outW;
    int plane = outH * outW;
    for (int r = 0; r < rows; r++) {
      // the example into the zero-padded image (its border is never written), then each tap's
      // row of the transposed patches: with stride 1, one output row is a copy of padded values
      int base = r * per;
      for (int c = 0; c < inC; c++) {
        for (int y = 0; y < inH; y++) {
          System.arraycopy(
              features, base + (c * inH + y) * inW, padded, (c * padH + y + pad) * padW + pad, inW);
        }
      }
      for (int c = 0; c < inC; c++) {
        for (int ky = 0; ky < k; ky++) {
          for (int kx = 0; kx < k; kx++) {
            int to = ((c * k + ky) * k + kx) * n + r * plane;
            for (int oy = 0; oy < outH; oy++) {
              int from = (c * padH + oy * stride + ky) * padW + kx;
              if (stride == 1) {
                System.arraycopy(padded, from, hPatches, to + oy * outW, outW);
              } else {
                for (int ox = 0; ox < outW; ox++) {
                  hPatches[to + oy * outW + ox] = padded[from + ox * stride];
                }
              }
            }
          }
        }
      }
    }
    java.util.Arrays.fill(hPatches, (width - 1) * n, width * n, 1f);
    DenseStack.put(patches, hPatches, width * n);
    // weights [outC][C k k] -> w [(C k k) + bias][outC]
    DenseStack.get(weights, hWeights, hWeights.length);
    int kk = width - 1;
    for (int o = 0; o < outC; o++) {
      for (int j = 0; j < kk; j++) {
        hw[j * outC + o] = hWeights[o * kk + j];
      }
    }
    float[] b = new float[outC];
    if (bias != null) {
      DenseStack.get(bias, b, outC);
    }
    System.arraycopy(b, 0, hw, kk * outC, outC);
    DenseStack.put(w, hw, hw.length);
    DenseStack.matmul(
        patchesT(n), w, out.reshape('c', (long) rows * outH * outW, outC), true, false);
  }

  /** The transposed patches of the last forward's {@code n} pixels as a (width x n) matrix. */
  private INDArray patchesT(int n) {
    return patches.get(NDArrayIndex.interval(0, (long) width * n)).reshape('c', width, n);
  }

  /**
   * The weight and bias gradients from {@code gradOut} (the last forward's rows, NHWC); {@code
   * dBias} null: no bias.
   */
  void backward(INDArray gradOut, INDArray dWeights, INDArray dBias) {
    int n = rows * outH * outW;
    DenseStack.matmul(patchesT(n), gradOut.reshape('c', (long) n, outC), dw, false, false);
    DenseStack.get(dw, hw, hw.length);
    int kk = width - 1;
    for (int o = 0; o < outC; o++) {
      for (int j = 0; j < kk; j++) {
        hWeights[o * kk + j] = hw[j * outC + o];
      }
    }
    DenseStack.put(dWeights, hWeights, hWeights.length);
    if (dBias != null) {
      float[] db = new float[outC];
      System.arraycopy(hw, kk * outC, db, 0, outC);
      DenseStack.put(dBias, db, outC);
    }
  }
}
