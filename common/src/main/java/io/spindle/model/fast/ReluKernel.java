package io.spindle.model.fast;

import java.nio.FloatBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A ReLU's forward and backward on contiguous native arrays, tile by tile through small heap
 * buffers, so that each pass is one vectorised loop over arrays indexed from 0 (what C2 in Java 17
 * vectorises; see {@link BatchNormKernel}). libnd4j's {@code relu_bp} (a legacy pairwise transform,
 * not oneDNN) took about 4.6 ms per million values on this machine, its {@code relu} about 1 ms;
 * these cost one read of each operand and one write.
 *
 * <p>The values are libnd4j's: forward {@code max(x, 0)} ({@link BatchNormKernel#relu}: +0 for -0,
 * NaN stays NaN); backward {@code g} where the input is > 0, else 0 ({@code g *} {@link
 * BatchNormKernel#positive}: a zero of either sign where the input is not > 0, unless g is infinite
 * or NaN).
 */
final class ReluKernel {
  static final int TILE = 4096;

  private final float[] xt = new float[TILE];
  private final float[] gt = new float[TILE];
  private final float[] yt = new float[TILE];
  private final float[] dt = new float[TILE];

  /** {@code out = max(in, 0)} over the first {@code n} values. */
  void forward(INDArray in, INDArray out, int n) {
    FloatBuffer src = in.data().asNioFloat();
    FloatBuffer dst = out.data().asNioFloat();
    int si = (int) in.offset();
    int di = (int) out.offset();
    for (int t0 = 0; t0 < n; t0 += TILE) {
      int m = Math.min(TILE, n - t0);
      src.get(si + t0, xt, 0, m);
      for (int i = 0; i < m; i++) {
        yt[i] = BatchNormKernel.relu(xt[i]);
      }
      dst.put(di + t0, yt, 0, m);
    }
  }

  /**
   * {@code gradIn = gradOut} where {@code in} (the forward's input) is > 0, else 0, over the first
   * {@code n} values.
   */
  void backward(INDArray in, INDArray gradOut, INDArray gradIn, int n) {
    FloatBuffer x = in.data().asNioFloat();
    FloatBuffer g = gradOut.data().asNioFloat();
    FloatBuffer d = gradIn.data().asNioFloat();
    int xi = (int) in.offset();
    int gi = (int) gradOut.offset();
    int di = (int) gradIn.offset();
    for (int t0 = 0; t0 < n; t0 += TILE) {
      int m = Math.min(TILE, n - t0);
      x.get(xi + t0, xt, 0, m);
      g.get(gi + t0, gt, 0, m);
      for (int i = 0; i < m; i++) {
        yt[i] = gt[i] * BatchNormKernel.positive(BatchNormKernel.relu(xt[i]));
      }
      d.put(di + t0, yt, 0, m);
    }
  }

  /**
   * A residual block's end, an add and the relu after it in one pass: {@code out = max(a + b, 0)}
   * over the first {@code n} values (the sum in float, as libnd4j's {@code add}).
   */
  void addForward(INDArray a, INDArray b, INDArray out, int n) {
    FloatBuffer av = a.data().asNioFloat();
    FloatBuffer bv = b.data().asNioFloat();
    FloatBuffer dst = out.data().asNioFloat();
    int ai = (int) a.offset();
    int bi = (int) b.offset();
    int di = (int) out.offset();
    for (int t0 = 0; t0 < n; t0 += TILE) {
      int m = Math.min(TILE, n - t0);
      av.get(ai + t0, xt, 0, m);
      bv.get(bi + t0, gt, 0, m);
      for (int i = 0; i < m; i++) {
        yt[i] = BatchNormKernel.relu(xt[i] + gt[i]);
      }
      dst.put(di + t0, yt, 0, m);
    }
  }

  /**
   * {@link #addForward}'s backward: the relu's mask from its output {@code y} ({@code y > 0}
   * exactly where {@code a + b > 0}) on {@code gradOut}, then the add's: the masked gradient
   * written to {@code gradA} and {@code gradB}, or added to what they hold ({@code addA}, {@code
   * addB}: the input's gradient has another consumer that wrote it first), over the first {@code n}
   * values.
   */
  void addBackward(
      INDArray y,
      INDArray gradOut,
      INDArray gradA,
      boolean addA,
      INDArray gradB,
      boolean addB,
      int n) {
    FloatBuffer yv = y.data().asNioFloat();
    FloatBuffer g = gradOut.data().asNioFloat();
    int yi = (int) y.offset();
    int gi = (int) gradOut.offset();
    for (int t0 = 0; t0 < n; t0 += TILE) {
      int m = Math.min(TILE, n - t0);
      yv.get(yi + t0, xt, 0, m);
      g.get(gi + t0, gt, 0, m);
      for (int i = 0; i < m; i++) {
        yt[i] = gt[i] * BatchNormKernel.positive(xt[i]);
      }
      spread(gradA, addA, t0, m);
      spread(gradB, addB, t0, m);
    }
  }

  /** Values {@code [t0, t0 + m)} of the masked gradient (in yt) into {@code grad}, or added. */
  private void spread(INDArray grad, boolean add, int t0, int m) {
    FloatBuffer d = grad.data().asNioFloat();
    int at = (int) grad.offset() + t0;
    if (!add) {
      d.put(at, yt, 0, m);
      return;
    }
    d.get(at, dt, 0, m);
    for (int i = 0; i < m; i++) {
      dt[i] += yt[i];
    }
    d.put(at, dt, 0, m);
  }
}
