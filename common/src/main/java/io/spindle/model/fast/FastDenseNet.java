package io.spindle.model.fast;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import java.nio.FloatBuffer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The fast dense path (prototype, issue 13): one worker's forward and backward pass of a stack of
 * dense layers (ReLU or identity) under a softmax cross-entropy output, computing exactly what
 * DL4J's {@code computeGradientAndScore} computes for the same network (the loss, and the gradient
 * summed over the batch's examples), with three matrix products per layer and nothing else of size:
 * no per-step allocation, no gradient flattening, no dropout RNG in ND4J.
 *
 * <p>Memory. Parameters and gradients are the network's own flat vectors ({@code
 * MultiLayerNetwork.params()} and {@code getFlattenedGradients()}), in DL4J's layout: per layer the
 * weights {@code W} (nIn x nOut, column-major) then the bias. The products read and write views of
 * them directly: a column-major nIn x nOut matrix is a row-major nOut x nIn one, so {@code W^T} is
 * a plain row-major view and the weight gradient is written, transposed, straight into its place in
 * the flat gradient. Activations live in arrays allocated once for the largest batch.
 *
 * <p>Step, per hidden layer l: {@code z = x_l W} (libnd4j's matmul op, which runs oneDNN's matmul
 * on the calling thread's OpenMP team); then one Java pass over {@code z} adds the bias, applies
 * the activation and the next layer's dropout mask, giving the next layer's input {@code x_{l+1}}.
 * The output layer's softmax, loss, accuracy and {@code delta = p - y} are a Java pass over the
 * batch x classes logits. Backward: {@code dW^T = delta^T x_l} into the flat gradient; {@code g =
 * delta W^T}; one Java pass forms the previous layer's {@code delta = g / keep * 1[x_l > 0]} (for
 * ReLU the kept, positive inputs are exactly the units whose gradient passes: dropout's mask need
 * not be stored) and its bias gradient. The first layer's input gradient is not computed.
 *
 * <p>Dropout masks come from a {@link KeyedRandom} keyed by (global step, the example's index in
 * the global batch, layer), never from ND4J's random generator, so they do not depend on how the
 * batch is split across workers. They differ from DL4J's masks, so with dropout the two paths agree
 * in distribution only; without dropout they agree to float32 rounding ({@code FastDenseNetTest}).
 *
 * <p>Not thread-safe: one instance per worker thread, like the network it wraps.
 */
public final class FastDenseNet {
  private final int layers;
  private final int[] nIn;
  private final int[] nOut;
  private final boolean[] relu;
  private final double[] keep; // keep probability of layer l's input (1 = no dropout)
  private final int maxBatch;
  private final KeyedRandom rng;

  private final INDArray[] wt; // W^T views, row-major nOut x nIn
  private final INDArray[] bias; // views, length nOut
  private final INDArray[] dwt; // weight-gradient views, row-major nOut x nIn
  private final INDArray[] dbias; // bias-gradient views
  private final INDArray[] x; // x[l]: input of layer l, maxBatch x nIn[l]
  private final INDArray[] z; // z[l]: x[l] W[l], maxBatch x nOut[l]
  private final INDArray[] g; // g[l]: delta[l] W[l]^T, maxBatch x nIn[l] (l > 0)
  private final INDArray[] delta; // delta[l]: gradient of the loss at z[l], maxBatch x nOut[l]
  private final float[][] hx; // heap copies of x[l] (l > 0)
  private final float[] hz;
  private final float[] hb;
  private final float[] hdb;
  private long correct;
  private long[] times;

  private FastDenseNet(MultiLayerNetwork net, ModelConfig model, int maxBatch, KeyedRandom rng) {
    if (!supports(model)) {
      throw new IllegalArgumentException(
          "the fast dense path takes dense layers (relu or identity) under a softmax"
              + " cross_entropy output in float32, got "
              + model);
    }
    this.layers = model.layers().size();
    this.maxBatch = maxBatch;
    this.rng = rng;
    nIn = new int[layers];
    nOut = new int[layers];
    relu = new boolean[layers];
    keep = new double[layers];
    wt = new INDArray[layers];
    bias = new INDArray[layers];
    dwt = new INDArray[layers];
    dbias = new INDArray[layers];
    x = new INDArray[layers];
    z = new INDArray[layers];
    g = new INDArray[layers];
    delta = new INDArray[layers];
    hx = new float[layers][];
    INDArray params = net.params().reshape(net.numParams());
    net.initGradientsView();
    INDArray grads = net.getFlattenedGradients().reshape(net.numParams());
    if (params.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException(
          "the fast dense path is float32, got " + params.dataType());
    }
    long offset = 0;
    int widest = 0;
    for (int l = 0; l < layers; l++) {
      LayerConfig c = model.layers().get(l);
      nIn[l] = (int) net.getLayer(l).getParam("W").size(0);
      nOut[l] = c.units();
      relu[l] = c.activation() == Activation.RELU;
      keep[l] = 1.0 - c.dropout();
      long w = (long) nIn[l] * nOut[l];
      // column-major nIn x nOut == row-major nOut x nIn
      wt[l] = params.get(NDArrayIndex.interval(offset, offset + w)).reshape('c', nOut[l], nIn[l]);
      dwt[l] = grads.get(NDArrayIndex.interval(offset, offset + w)).reshape('c', nOut[l], nIn[l]);
      bias[l] = params.get(NDArrayIndex.interval(offset + w, offset + w + nOut[l]));
      dbias[l] = grads.get(NDArrayIndex.interval(offset + w, offset + w + nOut[l]));
      offset += w + nOut[l];
      x[l] = Nd4j.create(DataType.FLOAT, maxBatch, nIn[l]);
      z[l] = Nd4j.create(DataType.FLOAT, maxBatch, nOut[l]);
      delta[l] = Nd4j.create(DataType.FLOAT, maxBatch, nOut[l]);
      if (l > 0) {
        g[l] = Nd4j.create(DataType.FLOAT, maxBatch, nIn[l]);
      }
      if (l > 0 || keep[l] < 1) {
        hx[l] = new float[maxBatch * nIn[l]];
      }
      widest = Math.max(widest, nOut[l]);
    }
    if (offset != net.numParams()) {
      throw new IllegalStateException(
          "dense layers cover " + offset + " parameters, the network has " + net.numParams());
    }
    hz = new float[maxBatch * widest];
    hb = new float[widest];
    hdb = new float[widest];
    checkViews();
  }

  /**
   * A fast path over {@code net}'s own parameter and gradient vectors, for batches of up to {@code
   * maxBatch} examples, with dropout masks from {@code rng}.
   */
  public static FastDenseNet of(
      MultiLayerNetwork net, ModelConfig model, int maxBatch, KeyedRandom rng) {
    return new FastDenseNet(net, model, maxBatch, rng);
  }

  /** Whether the fast path computes {@code model}: dense relu/identity layers, softmax output. */
  public static boolean supports(ModelConfig model) {
    if (model.precision() != Precision.FLOAT32 || model.layers().size() < 1) {
      return false;
    }
    for (int l = 0; l < model.layers().size(); l++) {
      LayerConfig c = model.layers().get(l);
      boolean last = l == model.layers().size() - 1;
      if (last) {
        if (c.type() != LayerType.OUTPUT
            || c.activation() != Activation.SOFTMAX
            || c.loss() != Loss.CROSS_ENTROPY) {
          return false;
        }
      } else if (c.type() != LayerType.DENSE
          || (c.activation() != Activation.RELU && c.activation() != Activation.IDENTITY)) {
        return false;
      }
    }
    return model.input() == null || model.input().type() == io.spindle.config.InputKind.FLAT;
  }

  private void checkViews() {
    for (int l = 0; l < layers; l++) {
      if (wt[l].ordering() != 'c' || wt[l].stride(1) != 1 || dwt[l].stride(1) != 1) {
        throw new IllegalStateException(
            "layer " + l + ": expected row-major views of W^T in the flat vectors");
      }
    }
  }

  /**
   * Forward and backward pass over {@code rows} examples ({@code features}: rows x nIn[0],
   * row-major; {@code labels}: class indices), at global step {@code step}, the first example being
   * example {@code firstExample} of the global batch. Leaves the gradient summed over the examples
   * in the network's flat gradient vector; returns the mean loss.
   */
  public double computeGradient(
      float[] features, int[] labels, int rows, long step, long firstExample) {
    if (rows < 1 || rows > maxBatch) {
      throw new IllegalArgumentException(
          "batch of " + rows + " examples; this fast path holds 1 to " + maxBatch);
    }
    long t = times == null ? 0 : System.nanoTime();
    if (keep[0] < 1) {
      System.arraycopy(features, 0, hx[0], 0, rows * nIn[0]);
      DropoutMasks.apply(rng, step, firstExample, 0, keep[0], hx[0], 0, rows, nIn[0]);
      put(x[0], hx[0], rows * nIn[0]);
    } else {
      put(x[0], features, rows * nIn[0]);
    }
    double loss = 0;
    for (int l = 0; l < layers; l++) {
      matmul(rowsOf(x[l], rows), wt[l], rowsOf(z[l], rows), false, true);
      int n = nOut[l];
      get(z[l], hz, rows * n);
      get(bias[l], hb, n);
      if (l < layers - 1) {
        float[] next = hx[l + 1];
        double keepNext = keep[l + 1];
        for (int r = 0; r < rows; r++) {
          int at = r * n;
          for (int c = 0; c < n; c++) {
            float v = hz[at + c] + hb[c];
            next[at + c] = relu[l] && v < 0 ? 0f : v;
          }
        }
        if (keepNext < 1) {
          DropoutMasks.apply(rng, step, firstExample, l + 1, keepNext, next, 0, rows, n);
        }
        put(x[l + 1], next, rows * n);
      } else {
        loss = softmaxCrossEntropy(labels, rows, n);
        put(delta[l], hz, rows * n);
      }
      t = tick(t, 2 * l);
    }
    for (int l = layers - 1; l >= 0; l--) {
      // dW^T = delta^T x, straight into the flat gradient
      matmul(rowsOf(delta[l], rows), rowsOf(x[l], rows), dwt[l], true, false);
      if (l == 0) {
        tick(t, 1);
        break;
      }
      matmul(rowsOf(delta[l], rows), wt[l], rowsOf(g[l], rows), false, false);
      int n = nIn[l]; // == nOut[l - 1]
      get(g[l], hz, rows * n);
      float[] in = hx[l];
      float scale = (float) (1.0 / keep[l]);
      java.util.Arrays.fill(hdb, 0, n, 0f);
      boolean reluPrev = relu[l - 1];
      boolean dropped = keep[l] < 1;
      if (!reluPrev && dropped) {
        // identity activation: a kept unit may be 0, so redraw the mask instead of reading it
        DropoutMasks.apply(rng, step, firstExample, l, keep[l], hz, 0, rows, n);
        scale = 1f;
      }
      for (int r = 0; r < rows; r++) {
        int at = r * n;
        for (int c = 0; c < n; c++) {
          float d = reluPrev && in[at + c] <= 0 ? 0f : hz[at + c] * scale;
          hz[at + c] = d;
          hdb[c] += d;
        }
      }
      put(delta[l - 1], hz, rows * n);
      put(dbias[l - 1], hdb, n);
      t = tick(t, 2 * l + 1);
    }
    return loss;
  }

  /**
   * Adds each layer's forward time to {@code nanos[2 l]} and its backward time to {@code nanos[2 l
   * + 1]} on every later pass (for the profiler; null stops it).
   */
  public void recordTimes(long[] nanos) {
    if (nanos != null && nanos.length < 2 * layers) {
      throw new IllegalArgumentException(
          "need " + 2 * layers + " counters for " + layers + " layers, got " + nanos.length);
    }
    this.times = nanos;
  }

  private long tick(long since, int counter) {
    if (times == null) {
      return 0;
    }
    long now = System.nanoTime();
    times[counter] += now - since;
    return now;
  }

  /** Correct predictions (arg-max of the output's logits) of the last forward pass. */
  public long correct() {
    return correct;
  }

  /**
   * Softmax and cross-entropy over the logits in {@code hz} (bias added here), rows x n; leaves
   * {@code delta = p - y} in {@code hz}, the output layer's bias gradient in its view, counts the
   * correct predictions; returns the mean loss.
   */
  private double softmaxCrossEntropy(int[] labels, int rows, int n) {
    double loss = 0;
    long right = 0;
    java.util.Arrays.fill(hdb, 0, n, 0f);
    for (int r = 0; r < rows; r++) {
      int at = r * n;
      float max = Float.NEGATIVE_INFINITY;
      int arg = 0;
      for (int c = 0; c < n; c++) {
        float v = hz[at + c] + hb[c];
        hz[at + c] = v;
        if (v > max) {
          max = v;
          arg = c;
        }
      }
      double sum = 0;
      for (int c = 0; c < n; c++) {
        sum += Math.exp(hz[at + c] - max);
      }
      int y = labels[r];
      if (y < 0 || y >= n) {
        throw new IllegalArgumentException(
            "label " + y + " of example " + r + " is not a class of " + n);
      }
      loss += Math.log(sum) - (hz[at + y] - max);
      if (arg == y) {
        right++;
      }
      for (int c = 0; c < n; c++) {
        float p = (float) (Math.exp(hz[at + c] - max) / sum);
        float d = c == y ? p - 1f : p;
        hz[at + c] = d;
        hdb[c] += d;
      }
    }
    correct = right;
    put(dbias[layers - 1], hdb, n);
    return loss / rows;
  }

  private static INDArray rowsOf(INDArray a, int rows) {
    return rows == a.size(0) ? a : a.get(NDArrayIndex.interval(0, rows), NDArrayIndex.all());
  }

  /** {@code out = op(a) op(b)} with libnd4j's matmul (oneDNN on the CPU backend). */
  static void matmul(INDArray a, INDArray b, INDArray out, boolean transA, boolean transB) {
    Nd4j.exec(
        DynamicCustomOp.builder("matmul")
            .addInputs(a, b)
            .addOutputs(out)
            .addIntegerArguments(transA ? 1 : 0, transB ? 1 : 0, 0)
            .build());
  }

  private static void put(INDArray target, float[] values, int n) {
    FloatBuffer fb = target.data().asNioFloat();
    fb.position((int) target.offset());
    fb.put(values, 0, n);
  }

  private static void get(INDArray source, float[] values, int n) {
    FloatBuffer fb = source.data().asNioFloat();
    fb.position((int) source.offset());
    fb.get(values, 0, n);
  }
}
