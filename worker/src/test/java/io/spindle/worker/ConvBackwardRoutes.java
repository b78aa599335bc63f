package io.spindle.worker;

import java.util.Arrays;
import java.util.Random;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.layers.convolution.Conv2D;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The backward pass of one 3 x 3, stride 1, padding 1 convolution (channels-last, {@code C -> C}
 * channels, no bias: a ResNet stage's convolution) by three routes through libnd4j M2.1, timed on
 * one thread and checked against the first: docs/residual-networks.md, "The convolutions' backward
 * (fourteenth session)". Not a test (no assertions, timed): a main for the machine's measurement.
 *
 * <ol>
 *   <li>{@code conv2d_bp}, what {@code FastResidualNet} runs: libnd4j hands oneDNN 2.3 {@code
 *       convolution_auto}, which picks Winograd for both halves at these shapes, with reorders to
 *       and from the blocked layout;
 *   <li>{@code deconv2d_bp} with the weights rotated by 180 degrees: a transposed convolution's
 *       input gradient is the convolution's forward (here: of the output gradient, which is the
 *       input gradient wanted) and its weight gradient the rotated weight gradient wanted; oneDNN
 *       runs it with direct (not Winograd) kernels, also through blocked layouts;
 *   <li>the input gradient as a forward {@code conv2d} of the output gradient with the rotated
 *       weights (oneDNN's channels-last brgconv kernel, no reorder), the weight gradient as nine
 *       matrix products, one per kernel tap, over zero-padded copies of the input and of the output
 *       gradient (a tap is a fixed row offset in the padded layout).
 * </ol>
 *
 * Arguments: {@code batch side channels reps}, for example {@code 64 32 16 40} (ResNet-20's first
 * stage at a worker's batch of 64), {@code 64 16 32 40}, {@code 64 8 64 40}. Prints each route's
 * median and tenth-percentile milliseconds and its largest difference from route 1. Run with {@code
 * OMP_NUM_THREADS=1}; {@code DNNL_VERBOSE=1} prints the primitives oneDNN picked.
 */
public final class ConvBackwardRoutes {
  private ConvBackwardRoutes() {}

  public static void main(String[] args) {
    if (args.length != 4) {
      throw new IllegalArgumentException(
          "usage: ConvBackwardRoutes batch side channels reps, got " + args.length + " arguments");
    }
    int n = Integer.parseInt(args[0]);
    int h = Integer.parseInt(args[1]);
    int c = Integer.parseInt(args[2]);
    int reps = Integer.parseInt(args[3]);
    Random random = new Random(1);
    INDArray x = gaussian(random, n, h, h, c);
    INDArray dy = gaussian(random, n, h, h, c);
    INDArray w = gaussian(random, c, c, 3, 3); // [out, in, kH, kW]
    Conv2DConfig conf =
        Conv2DConfig.builder()
            .kH(3)
            .kW(3)
            .sH(1)
            .sW(1)
            .pH(1)
            .pW(1)
            .dH(1)
            .dW(1)
            .paddingMode(PaddingMode.VALID)
            .dataFormat(Conv2DConfig.NHWC)
            .weightsFormat(WeightsFormat.OIYX)
            .build();
    long[] convArgs = new Conv2D(new INDArray[] {x, w}, new INDArray[] {dy}, conf).iArgs();
    // kH, kW, sH, sW, pH, pW, dH, dW, same mode, NHWC, weights [kH, kW, out, in]
    long[] deconvArgs = {3, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0};
    float[] hw = w.data().asFloat();

    INDArray[] first = {
      Nd4j.create(DataType.FLOAT, n, h, h, c), Nd4j.create(DataType.FLOAT, c, c, 3, 3)
    };
    double[] t1 = new double[reps];
    for (int r = 0; r < reps; r++) {
      long t0 = System.nanoTime();
      exec("conv2d_bp", new INDArray[] {x, w, dy}, first, convArgs);
      t1[r] = (System.nanoTime() - t0) / 1e6;
    }

    INDArray wd = Nd4j.create(DataType.FLOAT, 3, 3, c, c);
    INDArray[] second = {
      Nd4j.create(DataType.FLOAT, n, h, h, c), Nd4j.create(DataType.FLOAT, 3, 3, c, c)
    };
    double[] t2 = new double[reps];
    for (int r = 0; r < reps; r++) {
      long t0 = System.nanoTime();
      wd.data().setData(rotated(hw, c, true));
      exec("deconv2d_bp", new INDArray[] {x, wd, dy}, second, deconvArgs);
      t2[r] = (System.nanoTime() - t0) / 1e6;
    }
    float[] g = second[1].data().asFloat();
    float[] back = new float[g.length];
    for (int o = 0; o < c; o++) {
      for (int i = 0; i < c; i++) {
        for (int k = 0; k < 9; k++) {
          back[(o * c + i) * 9 + k] = g[((8 - k) * c + o) * c + i];
        }
      }
    }
    INDArray secondDw = Nd4j.create(DataType.FLOAT, c, c, 3, 3);
    secondDw.data().setData(back);

    int hp = h + 2;
    int rows = n * hp * hp;
    INDArray xPad = Nd4j.create(DataType.FLOAT, rows, c);
    INDArray dyPad = Nd4j.create(DataType.FLOAT, rows, c);
    INDArray[] a = new INDArray[9];
    INDArray[] b = new INDArray[9];
    INDArray[] taps = new INDArray[9];
    for (int k = 0; k < 9; k++) {
      int off = (k / 3 - 1) * hp + (k % 3 - 1);
      int from = Math.max(0, -off);
      int to = Math.min(rows, rows - off);
      a[k] = xPad.get(NDArrayIndex.interval(from + off, to + off), NDArrayIndex.all());
      b[k] = dyPad.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      taps[k] = Nd4j.create(DataType.FLOAT, c, c);
    }
    INDArray wr = Nd4j.create(DataType.FLOAT, c, c, 3, 3);
    INDArray thirdDx = Nd4j.create(DataType.FLOAT, n, h, h, c);
    INDArray thirdDw = Nd4j.create(DataType.FLOAT, c, c, 3, 3);
    float[] heap = new float[n * h * h * c];
    float[] padded = new float[rows * c];
    double[] t3 = new double[reps];
    for (int r = 0; r < reps; r++) {
      long t0 = System.nanoTime();
      wr.data().setData(rotated(hw, c, false));
      exec("conv2d", new INDArray[] {dy, wr}, new INDArray[] {thirdDx}, convArgs);
      pad(x, xPad, heap, padded, n, h, c);
      pad(dy, dyPad, heap, padded, n, h, c);
      for (int k = 0; k < 9; k++) {
        Nd4j.gemm(b[k], a[k], taps[k], true, false, 1.0, 0.0); // [out, in] of tap k
      }
      float[] dw = new float[hw.length];
      for (int k = 0; k < 9; k++) {
        float[] tap = taps[k].data().asFloat();
        for (int o = 0; o < c; o++) {
          for (int i = 0; i < c; i++) {
            dw[(o * c + i) * 9 + k] = tap[o * c + i];
          }
        }
      }
      thirdDw.data().setData(dw);
      t3[r] = (System.nanoTime() - t0) / 1e6;
    }

    System.out.printf(
        "%d x %dx%d x %d channels, 3x3 stride 1, one thread, %d repetitions (median / p10 ms)%n",
        n, h, h, c, reps);
    report("1 conv2d_bp (Winograd)", t1, first[0], first[1], first[0], first[1]);
    report("2 deconv2d_bp, rotated weights", t2, first[0], first[1], second[0], secondDw);
    report("3 conv2d of dY + 9 tap products", t3, first[0], first[1], thirdDx, thirdDw);
  }

  private static void report(
      String route, double[] t, INDArray dx0, INDArray dw0, INDArray dx, INDArray dw) {
    double[] s = t.clone();
    Arrays.sort(s);
    System.out.printf(
        "%-34s %7.2f / %7.2f   max |dX - dX1| %.3g of %.3g, max |dW - dW1| %.3g of %.3g%n",
        route,
        s[s.length / 2],
        s[s.length / 10],
        dx0.sub(dx).amaxNumber().doubleValue(),
        dx0.amaxNumber().doubleValue(),
        dw0.sub(dw).amaxNumber().doubleValue(),
        dw0.amaxNumber().doubleValue());
  }

  /**
   * The weights {@code w} ([out, in, 3, 3], c channels each) rotated by 180 degrees with the
   * channels' roles swapped: laid out [3, 3, out, in] for {@code deconv2d} ({@code deconv}), else
   * [in, out, 3, 3] for {@code conv2d}.
   */
  private static float[] rotated(float[] w, int c, boolean deconv) {
    float[] out = new float[w.length];
    for (int o = 0; o < c; o++) {
      for (int i = 0; i < c; i++) {
        for (int k = 0; k < 9; k++) {
          out[deconv ? ((8 - k) * c + o) * c + i : (i * c + o) * 9 + (8 - k)] =
              w[(o * c + i) * 9 + k];
        }
      }
    }
    return out;
  }

  /** {@code dst} (n (h + 2)^2 rows of c) = {@code src} (n, h, h, c) with a ring of zeros. */
  private static void pad(
      INDArray src, INDArray dst, float[] heap, float[] padded, int n, int h, int c) {
    src.data().asNioFloat().get(0, heap, 0, n * h * h * c);
    int hp = h + 2;
    Arrays.fill(padded, 0f);
    for (int i = 0; i < n; i++) {
      for (int y = 0; y < h; y++) {
        System.arraycopy(
            heap, ((i * h + y) * h) * c, padded, ((i * hp + y + 1) * hp + 1) * c, h * c);
      }
    }
    dst.data().asNioFloat().put(0, padded, 0, padded.length);
  }

  private static void exec(String op, INDArray[] in, INDArray[] out, long[] iArgs) {
    int[] ints = new int[iArgs.length];
    for (int i = 0; i < ints.length; i++) {
      ints[i] = Math.toIntExact(iArgs[i]);
    }
    Nd4j.exec(
        DynamicCustomOp.builder(op)
            .addInputs(in)
            .addOutputs(out)
            .addIntegerArguments(ints)
            .build());
  }

  private static INDArray gaussian(Random random, long... shape) {
    INDArray a = Nd4j.create(DataType.FLOAT, shape);
    float[] v = new float[(int) a.length()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) random.nextGaussian();
    }
    a.data().setData(v);
    return a;
  }
}
