package io.spindle.model.fast;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Max pooling (no padding) on the heap output of the batch norm before it, for {@link FastConvNet}:
 * the forward pass records each window's arg-max, the backward pass sends each gradient to it, and
 * the batch norm's backward reads the result without a trip through native memory. libnd4j's {@code
 * maxpool2d_bp} runs oneDNN's forward again to find the arg-maxes (measured on one core, 64 x 32 x
 * 28 x 28: forward 0.7 ms, backward 3.8 ms). Ties go to the first maximum in row-major window
 * order, as in oneDNN.
 *
 * <p>An inference kernel ({@link #forInference}) pools a batch norm's scaled input forward only: it
 * records no arg-maxes and holds none of the backward pass's buffers.
 */
final class MaxPoolKernel {
  private final int channels;
  private final int inH;
  private final int inW;
  private final int k;
  private final int stride;
  private final int outH;
  private final int outW;
  private final boolean channelsLast;
  private final int[] argmax; // null in an inference kernel, as are pooledIn, gradIn and gradOut
  private final float[] pooledIn; // the scaled forward's input at argmax: in[argmax[o]]
  private final float[] out;
  private final float[] gradIn;
  private final float[] gradOut;
  private int rows;

  MaxPoolKernel(
      int channels, int inH, int inW, int k, int stride, int maxBatch, boolean channelsLast) {
    this(channels, inH, inW, k, stride, maxBatch, channelsLast, true);
  }

  private MaxPoolKernel(
      int channels,
      int inH,
      int inW,
      int k,
      int stride,
      int maxBatch,
      boolean channelsLast,
      boolean backward) {
    this.channels = channels;
    this.inH = inH;
    this.inW = inW;
    this.k = k;
    this.stride = stride;
    this.outH = (inH - k) / stride + 1;
    this.outW = (inW - k) / stride + 1;
    this.channelsLast = channelsLast;
    int outputs = maxBatch * channels * outH * outW;
    argmax = backward ? new int[outputs] : null;
    pooledIn = backward ? new float[outputs] : null;
    out = new float[outputs];
    gradOut = backward ? new float[outputs] : null;
    gradIn = backward ? new float[maxBatch * channels * inH * inW] : null;
  }

  /**
   * A kernel for inference (channels-last): the forward of a batch norm's scaled input only ({@link
   * #forward(float[], float[], float[], int, INDArray)}, {@link #forwardFlat}), the same values as
   * a training kernel's, without arg-maxes or gradient buffers.
   */
  static MaxPoolKernel forInference(
      int channels, int inH, int inW, int k, int stride, int maxBatch) {
    return new MaxPoolKernel(channels, inH, inW, k, stride, maxBatch, true, false);
  }

  private void requireTraining(String what) {
    if (argmax == null) {
      throw new IllegalStateException(
          "this pooling kernel is built for inference (forInference): it has no " + what);
    }
  }

  /** Pools {@code in} (rows examples, this layer's layout) into {@code result} (native). */
  void forward(float[] in, int rows, INDArray result) {
    requireTraining("unscaled forward");
    this.rows = rows;
    int o = 0;
    if (channelsLast) {
      // per output pixel, all channels at once: the inner loops run over contiguous channels
      for (int r = 0; r < rows; r++) {
        int base = r * inH * inW * channels;
        for (int oy = 0; oy < outH; oy++) {
          for (int ox = 0; ox < outW; ox++, o += channels) {
            int first = base + ((oy * stride) * inW + ox * stride) * channels;
            for (int c = 0; c < channels; c++) {
              out[o + c] = in[first + c];
              argmax[o + c] = first + c;
            }
            for (int ky = 0; ky < k; ky++) {
              for (int kx = 0; kx < k; kx++) {
                if (ky == 0 && kx == 0) {
                  continue;
                }
                int at = base + ((oy * stride + ky) * inW + ox * stride + kx) * channels;
                for (int c = 0; c < channels; c++) {
                  float v = in[at + c];
                  boolean greater = v > out[o + c];
                  out[o + c] = greater ? v : out[o + c];
                  argmax[o + c] = greater ? at + c : argmax[o + c];
                }
              }
            }
          }
        }
      }
    } else {
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < channels; c++) {
          int base = (r * channels + c) * inH * inW;
          for (int oy = 0; oy < outH; oy++) {
            for (int ox = 0; ox < outW; ox++, o++) {
              int best = base + (oy * stride) * inW + ox * stride;
              float max = in[best];
              for (int ky = 0; ky < k; ky++) {
                int row = base + (oy * stride + ky) * inW + ox * stride;
                for (int kx = 0; kx < k; kx++) {
                  if (in[row + kx] > max) {
                    max = in[row + kx];
                    best = row + kx;
                  }
                }
              }
              out[o] = max;
              argmax[o] = best;
            }
          }
        }
      }
    }
    DenseStack.put(result, out, o);
  }

  /**
   * Pools {@code in scale + shift} (per channel: a batch norm's input, scale and shift, {@link
   * BatchNormKernel#forward(INDArray, INDArray, int, INDArray, INDArray, boolean, boolean)}; rows
   * examples, NHWC only) into {@code result} (native), so that the batch norm's output is never
   * written out.
   */
  void forward(float[] in, float[] scale, float[] shift, int rows, INDArray result) {
    DenseStack.put(result, poolScaled(in, scale, shift, rows), rows * channels * outH * outW);
  }

  /**
   * The same into {@code dest} (heap) in DL4J's flattening order, (channel, row, column) per
   * example: the features of a dense layer that follows.
   */
  void forwardFlat(float[] in, float[] scale, float[] shift, int rows, float[] dest) {
    float[] y = poolScaled(in, scale, shift, rows);
    int hw = outH * outW;
    int per = hw * channels;
    for (int r = 0; r < rows; r++) {
      int base = r * per;
      for (int i = 0; i < hw; i++) {
        int from = base + i * channels;
        for (int c = 0; c < channels; c++) {
          dest[base + c * hw + i] = y[from + c];
        }
      }
    }
  }

  private float[] poolScaled(float[] in, float[] scale, float[] shift, int rows) {
    if (!channelsLast) {
      throw new IllegalStateException("pooling a scaled input is implemented for NHWC only");
    }
    this.rows = rows;
    if (argmax == null) {
      return poolScaledOnly(in, scale, shift, rows);
    }
    if (k == 2) {
      return poolScaled2(in, scale, shift, rows);
    }
    int o = 0;
    for (int r = 0; r < rows; r++) {
      int base = r * inH * inW * channels;
      for (int oy = 0; oy < outH; oy++) {
        for (int ox = 0; ox < outW; ox++, o += channels) {
          int first = base + ((oy * stride) * inW + ox * stride) * channels;
          for (int c = 0; c < channels; c++) {
            out[o + c] = in[first + c] * scale[c] + shift[c];
            argmax[o + c] = first + c;
            pooledIn[o + c] = in[first + c];
          }
          for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
              if (ky == 0 && kx == 0) {
                continue;
              }
              int at = base + ((oy * stride + ky) * inW + ox * stride + kx) * channels;
              for (int c = 0; c < channels; c++) {
                float u = in[at + c];
                float v = u * scale[c] + shift[c];
                boolean greater = v > out[o + c]; // selects, not branches: the JIT's cmov
                out[o + c] = greater ? v : out[o + c];
                argmax[o + c] = greater ? at + c : argmax[o + c];
                pooledIn[o + c] = greater ? u : pooledIn[o + c];
              }
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * {@link #poolScaled} for 2 x 2 windows: the four values of a window in locals, compared in the
   * general loop's order (row-major, the first maximum kept), so that the selects need no array
   * round trips.
   */
  private float[] poolScaled2(float[] in, float[] scale, float[] shift, int rows) {
    int o = 0;
    int right = channels;
    int below = inW * channels;
    for (int r = 0; r < rows; r++) {
      int base = r * inH * inW * channels;
      for (int oy = 0; oy < outH; oy++) {
        for (int ox = 0; ox < outW; ox++, o += channels) {
          int p0 = base + ((oy * stride) * inW + ox * stride) * channels;
          for (int c = 0; c < channels; c++) {
            float s = scale[c];
            float t = shift[c];
            int i0 = p0 + c;
            float x0 = in[i0];
            float x1 = in[i0 + right];
            float x2 = in[i0 + below];
            float x3 = in[i0 + below + right];
            float m = x0 * s + t;
            int best = i0;
            float xm = x0;
            float y1 = x1 * s + t;
            float y2 = x2 * s + t;
            float y3 = x3 * s + t;
            if (y1 > m) {
              m = y1;
              best = i0 + right;
              xm = x1;
            }
            if (y2 > m) {
              m = y2;
              best = i0 + below;
              xm = x2;
            }
            if (y3 > m) {
              m = y3;
              best = i0 + below + right;
              xm = x3;
            }
            out[o + c] = m;
            argmax[o + c] = best;
            pooledIn[o + c] = xm;
          }
        }
      }
    }
    return out;
  }

  /**
   * {@link #poolScaled}'s output alone, for an inference kernel: the same values compared in the
   * same order (row-major window order, the first maximum kept; {@link #poolScaled2} too), so the
   * same output bit for bit.
   */
  private float[] poolScaledOnly(float[] in, float[] scale, float[] shift, int rows) {
    int o = 0;
    for (int r = 0; r < rows; r++) {
      int base = r * inH * inW * channels;
      for (int oy = 0; oy < outH; oy++) {
        for (int ox = 0; ox < outW; ox++, o += channels) {
          int first = base + ((oy * stride) * inW + ox * stride) * channels;
          for (int c = 0; c < channels; c++) {
            out[o + c] = in[first + c] * scale[c] + shift[c];
          }
          for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
              if (ky == 0 && kx == 0) {
                continue;
              }
              int at = base + ((oy * stride + ky) * inW + ox * stride + kx) * channels;
              for (int c = 0; c < channels; c++) {
                float v = in[at + c] * scale[c] + shift[c];
                out[o + c] = v > out[o + c] ? v : out[o + c];
              }
            }
          }
        }
      }
    }
    return out;
  }

  /** The gradient at the last forward's input (heap, that layout) from {@code grad} (native). */
  float[] backward(INDArray grad) {
    requireTraining("backward");
    DenseStack.get(grad, gradOut, rows * channels * outH * outW);
    return scatter();
  }

  /**
   * Passes the gradient at the last forward's output ({@code grad}, native; or {@code gradFlat},
   * heap, (channel, row, column) order, when {@code grad} is null) to the batch norm that fed the
   * pooling ({@link BatchNormKernel#backwardPooled}), which leaves the gradient at its own input in
   * {@code bnGradIn} (native) or, when that is null, in a heap array (returned; null otherwise).
   * Windows must not overlap (see {@link #disjoint()}). With {@code conv} (the first convolution,
   * feeding the batch norm; null: none) the gradient at the batch norm's input goes chunk by chunk
   * into {@code conv}'s weight-gradient products ({@link BatchNormKernel#backwardPooled}), not to
   * {@code bnGradIn}.
   */
  float[] backwardInto(
      BatchNormKernel bn,
      INDArray grad,
      float[] gradFlat,
      INDArray bnGradIn,
      INDArray dGamma,
      INDArray dBeta,
      boolean reluInput,
      Im2colConv conv) {
    requireTraining("backward");
    int outputs = rows * channels * outH * outW;
    if (grad != null) {
      DenseStack.get(grad, gradOut, outputs);
    } else {
      unflatten(gradFlat);
    }
    bn.backwardPooled(
        gradOut, argmax, pooledIn, outputs, gradIn, bnGradIn, dGamma, dBeta, reluInput, conv);
    return bnGradIn == null && conv == null ? gradIn : null;
  }

  /** The last forward's arg-max positions (one per output, NHWC; null: inference); for tests. */
  int[] argmax() {
    return argmax;
  }

  /** The last scaled forward's input at the arg-max positions, {@code in[argmax[o]]}; for tests. */
  float[] pooledInput() {
    return pooledIn;
  }

  /** Whether each input position lies in one window at most (stride at least the window). */
  boolean disjoint() {
    return stride >= k;
  }

  /**
   * The same from {@code gradFlat} (heap), the gradient at {@link #forwardFlat}'s output in its
   * (channel, row, column) order.
   */
  float[] backwardFlat(float[] gradFlat) {
    requireTraining("backward");
    unflatten(gradFlat);
    return scatter();
  }

  private void unflatten(float[] gradFlat) {
    int hw = outH * outW;
    int per = hw * channels;
    for (int r = 0; r < rows; r++) {
      int base = r * per;
      for (int i = 0; i < hw; i++) {
        int to = base + i * channels;
        for (int c = 0; c < channels; c++) {
          gradOut[to + c] = gradFlat[base + c * hw + i];
        }
      }
    }
  }

  private float[] scatter() {
    int outputs = rows * channels * outH * outW;
    Arrays.fill(gradIn, 0, rows * channels * inH * inW, 0f);
    for (int o = 0; o < outputs; o++) {
      gradIn[argmax[o]] += gradOut[o];
    }
    return gradIn;
  }
}
