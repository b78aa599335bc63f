package io.spindle.model.fast;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The first convolution of {@link FastConvNet} over an image of few channels when a batch norm
 * follows it: computed in Java on the heap, straight from the features into the batch norm's input
 * buffer, with no gradient for the input. Replaces, for this case, {@link Im2colConv}'s path
 * (patches built on the heap, copied to native memory, one product, the output copied back to the
 * heap by the batch norm), and in the backward pass it reads the batch norm's heap gradient instead
 * of a native copy of it.
 *
 * <p>The work is small (k k C multiply-adds per output value: 9 for a 3 x 3 kernel on one channel)
 * and its inner loops run over the output channels, contiguous in NHWC, which the JIT vectorises.
 * Forward, per output pixel: {@code z[o] = bias[o] + sum_t patch[t] w[t][o]} over the taps {@code t
 * = (c k + ky) k + kx} (zero padding: taps outside the image are skipped). Backward: {@code
 * dW[o][t] = sum_p patch_p[t] dz_p[o]}, {@code dbias[o] = sum_p dz_p[o]}, summed in float over
 * blocks of 64 pixels and over blocks in double, as {@link BatchNormKernel} sums its statistics.
 */
final class DirectConv {
  private static final int BLOCK = 64;
  private final int inC;
  private final int inH;
  private final int inW;
  private final int k;
  private final int stride;
  private final int pad;
  private final int outC;
  private final int outH;
  private final int outW;
  private final int taps; // k k C
  private final float[] w; // taps x outC, w[t outC + o]
  private final float[] bias;
  private final float[] hWeights; // DL4J's [outC][C][k][k]
  private final float[] patch; // one output pixel's taps
  private final float[] part; // (taps + 1) x outC, one block's weight and bias gradients
  private final double[] total;
  private float[] features; // the last forward's input (the caller's array)
  private int rows;

  DirectConv(int[] in, io.spindle.config.LayerConfig c, int[] out) {
    this.inC = in[0];
    this.inH = in[1];
    this.inW = in[2];
    this.k = c.kernel();
    this.stride = c.stride();
    this.pad = c.padding();
    this.outC = out[0];
    this.outH = out[1];
    this.outW = out[2];
    this.taps = k * k * inC;
    w = new float[taps * outC];
    bias = new float[outC];
    hWeights = new float[outC * taps];
    patch = new float[taps];
    part = new float[(taps + 1) * outC];
    total = new double[(taps + 1) * outC];
  }

  /** Whether a layer qualifies: first layer, few input channels (as {@link Im2colConv}). */
  static boolean suits(int inC, int k) {
    return Im2colConv.suits(inC, k);
  }

  /**
   * {@code out} (rows x outH x outW x outC, NHWC, from index 0) = the convolution of {@code
   * features} (rows x C x H x W, DL4J's order) with {@code weights} ([outC, C, k, k]) plus {@code
   * biasView} (null: none), then a ReLU when {@code relu}. {@code features} must stay unchanged
   * until {@link #backward}. With {@code sums} ({sum, sum of squares}, per output channel; null:
   * none) the output's sums for a batch norm, in float over blocks of 64 pixels and the blocks in
   * double, as {@link BatchNormKernel} sums its input.
   */
  void forward(
      float[] features,
      int rows,
      INDArray weights,
      INDArray biasView,
      boolean relu,
      float[] out,
      double[][] sums) {
    this.features = features;
    this.rows = rows;
    DenseStack.get(weights, hWeights, hWeights.length);
    for (int o = 0; o < outC; o++) {
      for (int t = 0; t < taps; t++) {
        w[t * outC + o] = hWeights[o * taps + t];
      }
    }
    if (biasView != null) {
      DenseStack.get(biasView, bias, outC);
    }
    if (sums != null) {
      Arrays.fill(sums[0], 0);
      Arrays.fill(sums[1], 0);
      Arrays.fill(part, 0f);
    }
    int inBlock = 0;
    int at = 0;
    for (int r = 0; r < rows; r++) {
      for (int oy = 0; oy < outH; oy++) {
        for (int ox = 0; ox < outW; ox++, at += outC) {
          gather(r, oy, ox);
          System.arraycopy(bias, 0, out, at, outC);
          for (int t = 0; t < taps; t++) {
            float v = patch[t];
            if (v != 0f) {
              int wt = t * outC;
              for (int o = 0; o < outC; o++) {
                out[at + o] += v * w[wt + o];
              }
            }
          }
          if (relu) {
            for (int o = 0; o < outC; o++) {
              out[at + o] = Math.max(out[at + o], 0f);
            }
          }
          if (sums != null) {
            for (int o = 0; o < outC; o++) {
              float v = out[at + o];
              part[o] += v;
              part[outC + o] += v * v;
            }
            if (++inBlock == BLOCK) {
              addSums(sums);
              inBlock = 0;
            }
          }
        }
      }
    }
    if (sums != null) {
      addSums(sums);
    }
  }

  private void addSums(double[][] sums) {
    for (int o = 0; o < outC; o++) {
      sums[0][o] += part[o];
      sums[1][o] += part[outC + o];
      part[o] = 0f;
      part[outC + o] = 0f;
    }
  }

  /**
   * The weight and bias gradients ({@code dBias} null: no bias) from {@code g}, the gradient at the
   * last forward's output (heap, NHWC).
   */
  void backward(float[] g, INDArray dWeights, INDArray dBias) {
    Arrays.fill(total, 0);
    Arrays.fill(part, 0f);
    int inBlock = 0;
    int at = 0;
    int biasAt = taps * outC;
    for (int r = 0; r < rows; r++) {
      for (int oy = 0; oy < outH; oy++) {
        for (int ox = 0; ox < outW; ox++, at += outC) {
          gather(r, oy, ox);
          for (int t = 0; t < taps; t++) {
            float v = patch[t];
            if (v != 0f) {
              int wt = t * outC;
              for (int o = 0; o < outC; o++) {
                part[wt + o] += v * g[at + o];
              }
            }
          }
          for (int o = 0; o < outC; o++) {
            part[biasAt + o] += g[at + o];
          }
          if (++inBlock == BLOCK) {
            flush();
            inBlock = 0;
          }
        }
      }
    }
    flush();
    for (int o = 0; o < outC; o++) {
      for (int t = 0; t < taps; t++) {
        hWeights[o * taps + t] = (float) total[t * outC + o];
      }
    }
    DenseStack.put(dWeights, hWeights, hWeights.length);
    if (dBias != null) {
      float[] db = new float[outC];
      for (int o = 0; o < outC; o++) {
        db[o] = (float) total[biasAt + o];
      }
      DenseStack.put(dBias, db, outC);
    }
  }

  private void flush() {
    for (int i = 0; i < part.length; i++) {
      total[i] += part[i];
    }
    Arrays.fill(part, 0f);
  }

  /** The taps of output pixel (oy, ox) of example r into {@code patch}, zero outside the image. */
  private void gather(int r, int oy, int ox) {
    int base = r * inC * inH * inW;
    int t = 0;
    for (int c = 0; c < inC; c++) {
      for (int ky = 0; ky < k; ky++) {
        int y = oy * stride - pad + ky;
        boolean rowIn = y >= 0 && y < inH;
        int row = base + (c * inH + y) * inW;
        for (int kx = 0; kx < k; kx++, t++) {
          int x = ox * stride - pad + kx;
          patch[t] = rowIn && x >= 0 && x < inW ? features[row + x] : 0f;
        }
      }
    }
  }
}
