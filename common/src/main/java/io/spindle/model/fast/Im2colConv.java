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
 * backward {@code dW = X^T dZ} gives the weight and bias gradients.
 *
 * <p>Both products run over chunks of {@link #chunkExamples()} examples (about {@link
 * #CHUNK_PIXELS} output pixels; the patches are stored chunk by chunk), so that a caller can take
 * the output, or hand the output gradient over, one chunk at a time through a cache-resident native
 * buffer ({@link #chunkBuffer()}, {@link #forwardChunk}, {@link #accumulate}) instead of writing
 * the whole array to memory and reading it back (6.4 MB for the MNIST CNN's first layer). The
 * weight gradient is the sum, in double, of the chunks' products.
 *
 * <p>An inference convolution ({@link #forInference}) runs the forward only and holds no gradient
 * buffers.
 */
final class Im2colConv {
  /**
   * Output pixels per chunk of the products in the chunked form (rounded down to whole examples, at
   * least one).
   */
  static final int CHUNK_PIXELS = 4096;

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
  private final INDArray dw; // null in an inference convolution, as is acc
  private final float[] hw;
  private final float[] hWeights;
  private final int chunk; // examples per chunk
  private final INDArray chunkBuf; // one chunk's output or output gradient, NHWC
  private final double[] acc; // the weight gradient's sum over the chunks so far
  // per chunk, libnd4j's matmul on fixed views, prepared once for a batch size (opsRows): a
  // chunk's product is a few microseconds of arithmetic; building the op and views, or running it
  // through Nd4j.exec's per-op Java path (docs/steady-step.md), costs as much
  private final PreparedMatmul[] forwardOps;
  private final PreparedMatmul[] backwardOps;
  private int opsRows = -1;
  private int rows;

  /**
   * A convolution of {@code k x k} kernels at {@code stride} and {@code pad} from {@code inC x inH
   * x inW} images to {@code outC x outH x outW} ones, for up to {@code maxBatch} examples, in
   * chunks when {@code chunked}; with its backward's buffers when {@code backward} (else {@link
   * #forInference}'s forward only). Callers outside tests take {@link #of}.
   */
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
      int maxBatch,
      boolean chunked,
      boolean backward) {
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
    dw = backward ? Nd4j.create(DataType.FLOAT, width, outC) : null;
    hw = new float[width * outC];
    hWeights = new float[outC * (width - 1)];
    chunk = chunked ? Math.max(1, Math.min(maxBatch, CHUNK_PIXELS / (outH * outW))) : maxBatch;
    chunkBuf = chunked ? Nd4j.create(DataType.FLOAT, (long) chunk * outH * outW * outC) : null;
    acc = backward ? new double[width * outC] : null;
    int chunks = (maxBatch + chunk - 1) / chunk;
    forwardOps = new PreparedMatmul[chunks];
    backwardOps = new PreparedMatmul[chunks];
  }

  /**
   * The convolution {@code c} from images of {C, H, W} {@code in} to {C, H, W} {@code out}; its
   * products over the whole batch at once, or over chunks of about {@link #CHUNK_PIXELS} output
   * pixels when {@code chunked}.
   */
  static Im2colConv of(
      int[] in, io.spindle.config.LayerConfig c, int[] out, int maxBatch, boolean chunked) {
    return of(in, c, out, maxBatch, chunked, true);
  }

  /** {@link #of} for inference: the forward only ({@link #forward}, {@link #forwardChunk}). */
  static Im2colConv forInference(
      int[] in, io.spindle.config.LayerConfig c, int[] out, int maxBatch, boolean chunked) {
    return of(in, c, out, maxBatch, chunked, false);
  }

  private static Im2colConv of(
      int[] in,
      io.spindle.config.LayerConfig c,
      int[] out,
      int maxBatch,
      boolean chunked,
      boolean backward) {
    return new Im2colConv(
        in[0],
        in[1],
        in[2],
        c.kernel(),
        c.stride(),
        c.padding(),
        out[0],
        out[1],
        out[2],
        maxBatch,
        chunked,
        backward);
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
    prepare(features, rows, weights, bias);
    int plane = outH * outW;
    INDArray z = out.reshape('c', (long) rows * plane, outC);
    for (int r0 = 0; r0 < rows; r0 += chunk) {
      int r1 = Math.min(rows, r0 + chunk);
      INDArray zc = z.get(NDArrayIndex.interval((long) r0 * plane, (long) r1 * plane));
      DenseStack.matmul(patchesT(r0, r1), w, zc, true, false);
    }
  }

  /**
   * The output of examples [r0, r1) (one chunk: r0 a multiple of {@link #chunkExamples()}, r1 the
   * chunk's end or the batch's) of the batch last {@link #prepare}d, into {@link #chunkBuffer()}
   * from its first element on (NHWC): the values {@link #forward} writes for those examples.
   */
  void forwardChunk(int r0, int r1) {
    check(r0, r1);
    ops()[0][r0 / chunk].run();
  }

  /** The forward and backward ops of the chunks for the current batch size. */
  private PreparedMatmul[][] ops() {
    if (chunkBuf == null) {
      throw new IllegalStateException("this convolution was built without chunks");
    }
    if (opsRows != rows) {
      closeOps();
      for (int r0 = 0; r0 < rows; r0 += chunk) {
        int r1 = Math.min(rows, r0 + chunk);
        INDArray p = patchesT(r0, r1);
        INDArray c = chunk(r0, r1);
        forwardOps[r0 / chunk] = new PreparedMatmul(p, w, c, true, false);
        if (dw != null) {
          backwardOps[r0 / chunk] = new PreparedMatmul(p, c, dw, false, false);
        }
      }
      opsRows = rows;
    }
    return new PreparedMatmul[][] {forwardOps, backwardOps};
  }

  /** Frees the chunks' prepared products (their native op contexts). */
  private void closeOps() {
    for (PreparedMatmul[] ps : new PreparedMatmul[][] {forwardOps, backwardOps}) {
      for (int i = 0; i < ps.length; i++) {
        if (ps[i] != null) {
          ps[i].close();
          ps[i] = null;
        }
      }
    }
    opsRows = -1;
  }

  /**
   * The patches of {@code features} (rows x C x H x W, DL4J's order) and the product's weights from
   * {@code weights} ([outC, C, k, k]) and {@code bias} (null: none), for {@link #forwardChunk}.
   */
  void prepare(float[] features, int rows, INDArray weights, INDArray bias) {
    this.rows = rows;
    int per = inC * inH * inW;
    int padH = inH + 2 * pad;
    int padW = inW + 2 * pad;
    int n = rows * outH * outW;
    int plane = outH * outW;
    for (int r = 0; r < rows; r++) {
      // the example into the zero-padded image (its border is never written), then each tap's
      // row of its chunk's transposed patches: with stride 1, one output row is a copy of padded
      // values
      int base = r * per;
      int r0 = r - r % chunk;
      int cn = (Math.min(rows, r0 + chunk) - r0) * plane; // pixels of r's chunk
      int block = r0 * plane * width; // where r's chunk's patches start
      for (int c = 0; c < inC; c++) {
        for (int y = 0; y < inH; y++) {
          System.arraycopy(
              features, base + (c * inH + y) * inW, padded, (c * padH + y + pad) * padW + pad, inW);
        }
      }
      for (int c = 0; c < inC; c++) {
        for (int ky = 0; ky < k; ky++) {
          for (int kx = 0; kx < k; kx++) {
            int to = block + ((c * k + ky) * k + kx) * cn + (r - r0) * plane;
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
    for (int r0 = 0; r0 < rows; r0 += chunk) {
      int cn = (Math.min(rows, r0 + chunk) - r0) * plane;
      int block = r0 * plane * width;
      java.util.Arrays.fill(hPatches, block + (width - 1) * cn, block + width * cn, 1f);
    }
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
  }

  /** The transposed patches of examples [r0, r1), one chunk, as a (width x pixels) matrix. */
  private INDArray patchesT(int r0, int r1) {
    long plane = (long) outH * outW;
    long from = r0 * plane * width;
    long cn = (r1 - r0) * plane;
    return patches.get(NDArrayIndex.interval(from, from + width * cn)).reshape('c', width, cn);
  }

  /** The first (r1 - r0) x outH x outW pixels of {@link #chunkBuffer()} as (pixels x outC). */
  private INDArray chunk(int r0, int r1) {
    long pixels = (long) (r1 - r0) * outH * outW;
    return chunkBuf.get(NDArrayIndex.interval(0, pixels * outC)).reshape('c', pixels, outC);
  }

  /** Examples per chunk of the products. */
  int chunkExamples() {
    return chunk;
  }

  /**
   * A native buffer for one chunk's output ({@link #forwardChunk} writes it) or output gradient
   * ({@link #accumulate} reads it), NHWC, from its first element on.
   */
  INDArray chunkBuffer() {
    return chunkBuf;
  }

  /**
   * The weight and bias gradients from {@code gradOut} (the last forward's rows, NHWC); {@code
   * dBias} null: no bias.
   */
  void backward(INDArray gradOut, INDArray dWeights, INDArray dBias) {
    requireTraining();
    int plane = outH * outW;
    INDArray g = gradOut.reshape('c', (long) rows * plane, outC);
    for (int r0 = 0; r0 < rows; r0 += chunk) {
      int r1 = Math.min(rows, r0 + chunk);
      product(r0, r1, g.get(NDArrayIndex.interval((long) r0 * plane, (long) r1 * plane)));
    }
    finishBackward(dWeights, dBias);
  }

  /**
   * Adds the weight-gradient product of the last forward's examples [r0, r1) (one chunk, as in
   * {@link #forwardChunk}) with their output gradient, which the caller has put into {@link
   * #chunkBuffer()}; the chunks of a batch in order from r0 = 0, then {@link #finishBackward}.
   */
  void accumulate(int r0, int r1) {
    requireTraining();
    check(r0, r1);
    ops()[1][r0 / chunk].run();
    add(r0);
  }

  private void product(int r0, int r1, INDArray g) {
    check(r0, r1);
    DenseStack.matmul(patchesT(r0, r1), g, dw, false, false);
    add(r0);
  }

  /** Adds the product in dw to the sum over the chunks (starting it at the first chunk). */
  private void add(int r0) {
    DenseStack.get(dw, hw, hw.length);
    if (r0 == 0) {
      java.util.Arrays.fill(acc, 0);
    }
    for (int i = 0; i < hw.length; i++) {
      acc[i] += hw[i];
    }
  }

  private void requireTraining() {
    if (dw == null) {
      throw new IllegalStateException(
          "this convolution is built for inference (forInference): it has no backward");
    }
  }

  private void check(int r0, int r1) {
    if (r0 % chunk != 0 || r1 != Math.min(rows, r0 + chunk)) {
      throw new IllegalArgumentException(
          "chunk of examples ["
              + r0
              + ", "
              + r1
              + "): expected a start at a multiple of "
              + chunk
              + " and that chunk's end (batch of "
              + rows
              + ")");
    }
  }

  /** The weight and bias gradients from the chunks' products ({@code dBias} null: no bias). */
  void finishBackward(INDArray dWeights, INDArray dBias) {
    requireTraining();
    for (int i = 0; i < hw.length; i++) {
      hw[i] = (float) acc[i];
    }
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
