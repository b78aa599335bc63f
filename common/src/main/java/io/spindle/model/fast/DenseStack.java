package io.spindle.model.fast;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Dense layers (ReLU or identity) under a softmax cross-entropy output, forward and backward, on
 * views of a network's flat parameter and gradient vectors: the part {@link FastDenseNet} and
 * {@link FastConvNet} share.
 *
 * <p>Memory. Parameters and gradients are in DL4J's layout: per layer the weights {@code W} (nIn x
 * nOut, column-major) then the bias. A column-major nIn x nOut matrix is a row-major nOut x nIn
 * one, so {@code W^T} is a plain row-major view and the weight gradient is written, transposed,
 * straight into its place in the flat gradient. Activations live in arrays allocated once for the
 * largest batch.
 *
 * <p>Step, per hidden layer l: {@code z = x_l W} (libnd4j's matmul op, which runs oneDNN's matmul
 * on the calling thread's OpenMP team); then one Java pass over {@code z} adds the bias, applies
 * the activation and the next layer's dropout mask, giving {@code x_{l+1}}. The output layer's
 * softmax, loss, accuracy and {@code delta = p - y} are one Java pass over the batch x classes
 * logits. Backward: {@code dW^T = delta^T x_l} into the flat gradient; {@code g = delta W^T}; one
 * Java pass forms the previous layer's {@code delta = g / keep * 1[x_l > 0]} (for ReLU the kept,
 * positive inputs are exactly the units whose gradient passes, so dropout's mask need not be
 * stored; after an identity layer the mask is drawn again) and its bias gradient.
 *
 * <p>bf16 ({@link #DenseStack(INDArray, INDArray, long, List, int, int, int, boolean, boolean)}
 * with {@code bf16}): the parameters, gradients and optimiser state stay float32 (the master copy);
 * every matrix product takes bfloat16 operands and gives a bfloat16 result (libnd4j's matmul op
 * takes no mixed types; oneDNN accumulates in float32 inside). The casts are fused into passes that
 * touch the data anyway: the Java passes above read the products' bf16 results and write the next
 * product's bf16 operands (round to nearest even), the weights are cast once per pass ({@code W^T}
 * to bf16, one pass over the parameters), and the weight gradients are widened into the flat
 * float32 gradient (one pass). The ReLU masks and the softmax are computed in float32.
 *
 * <p>Dropout masks come from the step's {@link StepKey} (global step, the example's index in the
 * global batch, the layer's index in the network), drawn as DL4J's keyed dropout draws them ({@link
 * DropoutMasks}), never from ND4J's random generator.
 */
final class DenseStack {
  private final int layers;
  private final int first; // index of the first layer in the whole network (the mask stream)
  private final int[] nIn;
  private final int[] nOut;
  private final boolean[] relu;
  private final double[] keep; // keep probability of layer l's input (1 = no dropout)
  private final int maxBatch;
  private final long numParams;
  private final double smoothing; // the output's label smoothing (0: none)
  private final boolean bf16; // products on bfloat16 operands (x, z, delta, g are bf16 arrays)
  private final boolean inference; // forward buffers only: no delta, g, gradient views, hdb
  private final INDArray[] wt16; // bf16: W^T cast once per pass; else wt
  private final INDArray[] dwt16; // bf16: the weight-gradient products; else dwt
  private final short[] hs; // bf16 scratch, one chunk
  private final float[] hw; // bf16 scratch, one chunk

  private final INDArray[] wt; // W^T views, row-major nOut x nIn
  private final INDArray[] bias;
  private final INDArray[] dwt;
  private final INDArray[] dbias;
  private final INDArray[] x; // x[l]: input of layer l (after its dropout), maxBatch x nIn[l]
  private final INDArray[] z; // z[l] = x[l] W[l]
  private final INDArray[]
      g; // g[l] = delta[l] W[l]^T (l > 0, or l == 0 when the input's is wanted)
  private final INDArray[] delta;
  private final float[][] hx; // heap copies of x[l]
  private final float[] hz;
  private final float[] hb;
  private final float[] hrow; // one row of the forward pass (and of the backward's deltas)
  private final float[] hrowIn; // one row of a layer's input, in the backward pass
  private final float[] hdb;
  private final DropoutMasks masks;
  private Products full; // the products on maxBatch rows, prepared once
  private Products partial; // on another number of rows (an epoch's last batch), the last used
  private long correct;
  private long[] times;
  private int timesAt;
  private long[] phases;

  /** Phases of {@link #recordPhases}: indices into its array. */
  static final int INPUT = 0;

  static final int FORWARD_PRODUCTS = 1;
  static final int FORWARD_PASS = 2;
  static final int SOFTMAX = 3;
  static final int WEIGHT_GRADIENT_PRODUCTS = 4;
  static final int INPUT_GRADIENT_PRODUCTS = 5;
  static final int BACKWARD_PASS = 6;

  /** What each phase of {@link #recordPhases} covers, by index. */
  static final String[] PHASES = {
    "input copy (+ input dropout; bf16: + the weights' cast to bf16)",
    "forward products x W",
    "bias + activation + dropout, with the copies from/to native memory",
    "softmax + loss + output delta and bias gradient",
    "weight-gradient products delta^T x (bf16: + their widening into the float32 gradient)",
    "input-gradient products delta W^T",
    "activation gradient + bias gradient, with the copies"
  };

  /**
   * @param params the network's flat parameter vector (rank 1)
   * @param grads its flat gradient vector
   * @param offset where this stack's first weight starts in both
   * @param configs the dense layers, then the output layer
   * @param first the index of the first of them in the network
   * @param inputs features of the stack's input
   * @param inputGradient whether {@link #forwardBackward} must return the input's gradient
   */
  DenseStack(
      INDArray params,
      INDArray grads,
      long offset,
      List<LayerConfig> configs,
      int first,
      int inputs,
      int maxBatch,
      boolean inputGradient) {
    this(params, grads, offset, configs, first, inputs, maxBatch, inputGradient, false);
  }

  /**
   * As above; with {@code bf16} the products take bfloat16 operands (see the class comment), which
   * pays only where oneDNN runs them on AMX ({@link Bf16Products}).
   */
  DenseStack(
      INDArray params,
      INDArray grads,
      long offset,
      List<LayerConfig> configs,
      int first,
      int inputs,
      int maxBatch,
      boolean inputGradient,
      boolean bf16) {
    this(params, grads, offset, configs, first, inputs, maxBatch, inputGradient, bf16, false);
  }

  /**
   * A stack that only evaluates ({@link #evaluate}), in float32: the forward's buffers only (no
   * deltas, no input gradients, no backward products), over {@code params}; its {@link
   * #forwardBackward} throws. What {@code FastDenseNet}'s and {@code FastConvNet}'s evaluators
   * hold.
   */
  static DenseStack forInference(
      INDArray params,
      long offset,
      List<LayerConfig> configs,
      int first,
      int inputs,
      int maxBatch) {
    return new DenseStack(
        params, null, offset, configs, first, inputs, maxBatch, false, false, true);
  }

  private DenseStack(
      INDArray params,
      INDArray grads,
      long offset,
      List<LayerConfig> configs,
      int first,
      int inputs,
      int maxBatch,
      boolean inputGradient,
      boolean bf16,
      boolean inference) {
    if (!supports(configs)) {
      throw new IllegalArgumentException(
          "the fast dense part takes dense layers (relu or identity) under a softmax"
              + " cross_entropy output, got "
              + configs);
    }
    if (params.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException("the fast paths are float32, got " + params.dataType());
    }
    this.layers = configs.size();
    this.first = first;
    this.maxBatch = maxBatch;
    this.bf16 = bf16;
    this.inference = inference;
    DataType act = bf16 ? DataType.BFLOAT16 : DataType.FLOAT;
    wt16 = new INDArray[layers];
    dwt16 = new INDArray[layers];
    long largest = 0;
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
    long at = offset;
    int widest = inputs;
    for (int l = 0; l < layers; l++) {
      LayerConfig c = configs.get(l);
      nIn[l] = l == 0 ? inputs : nOut[l - 1];
      nOut[l] = c.units();
      relu[l] = c.activation() == Activation.RELU;
      keep[l] = 1.0 - c.dropout();
      long w = (long) nIn[l] * nOut[l];
      // column-major nIn x nOut == row-major nOut x nIn
      wt[l] = params.get(NDArrayIndex.interval(at, at + w)).reshape('c', nOut[l], nIn[l]);
      bias[l] = params.get(NDArrayIndex.interval(at + w, at + w + nOut[l]));
      if (!inference) {
        dwt[l] = grads.get(NDArrayIndex.interval(at, at + w)).reshape('c', nOut[l], nIn[l]);
        dbias[l] = grads.get(NDArrayIndex.interval(at + w, at + w + nOut[l]));
      }
      at += w + nOut[l];
      x[l] = Nd4j.create(act, maxBatch, nIn[l]);
      z[l] = Nd4j.create(act, maxBatch, nOut[l]);
      if (!inference) {
        delta[l] = Nd4j.create(act, maxBatch, nOut[l]);
      }
      if (!inference && (l > 0 || inputGradient)) {
        g[l] = Nd4j.create(act, maxBatch, nIn[l]);
      }
      wt16[l] = bf16 ? Nd4j.create(act, nOut[l], nIn[l]) : wt[l];
      dwt16[l] = bf16 ? Nd4j.create(act, nOut[l], nIn[l]) : dwt[l];
      largest = Math.max(largest, w);
      hx[l] = new float[maxBatch * nIn[l]];
      widest = Math.max(widest, nOut[l]);
      if (wt[l].stride(1) != 1 || (dwt[l] != null && dwt[l].stride(1) != 1)) {
        throw new IllegalStateException("layer " + (first + l) + ": W^T views must be row-major");
      }
    }
    this.numParams = at - offset;
    this.smoothing = configs.get(layers - 1).labelSmoothing();
    hz = new float[maxBatch * widest];
    hb = new float[widest];
    hrow = new float[widest];
    hrowIn = inference ? null : new float[widest];
    hdb = inference ? null : new float[widest];
    masks = new DropoutMasks(widest);
    hs = bf16 ? new short[CHUNK] : null;
    hw = bf16 ? new float[CHUNK] : null;
  }

  /** Whether the products take bfloat16 operands. */
  boolean bf16() {
    return bf16;
  }

  /** Whether the stack computes these layers: dense relu/identity layers, a softmax output. */
  static boolean supports(List<LayerConfig> configs) {
    if (configs.isEmpty()) {
      return false;
    }
    for (int l = 0; l < configs.size(); l++) {
      LayerConfig c = configs.get(l);
      if (l == configs.size() - 1) {
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
    return true;
  }

  /** Entries of the flat vectors this stack covers. */
  long numParams() {
    return numParams;
  }

  long correct() {
    return correct;
  }

  /** Per-layer times into {@code nanos[at + 2 l]} (forward) and {@code [at + 2 l + 1]}. */
  void recordTimes(long[] nanos, int at) {
    this.times = nanos;
    this.timesAt = at;
  }

  /**
   * Adds each phase's time ({@link #PHASES}) to {@code nanos[phase]} on every later pass (for the
   * profiler; null stops it).
   */
  void recordPhases(long[] nanos) {
    if (nanos != null && nanos.length < PHASES.length) {
      throw new IllegalArgumentException(
          "expected room for " + PHASES.length + " phases, got " + nanos.length);
    }
    this.phases = nanos;
  }

  private long lap(long since, int phase) {
    if (phases == null) {
      return 0;
    }
    long now = System.nanoTime();
    phases[phase] += now - since;
    return now;
  }

  private long tick(long since, int counter) {
    if (times == null) {
      return 0;
    }
    long now = System.nanoTime();
    times[timesAt + counter] += now - since;
    return now;
  }

  /**
   * Forward and backward over {@code rows} examples of {@code input} (rows x inputs, row-major,
   * before the first layer's dropout; not modified) with the dropout masks of {@code key} (its
   * first row is row 0 of {@code input}). Leaves the summed gradient in the flat gradient vector
   * and, when {@code inputGrad} is not null, the gradient of the summed loss with respect to {@code
   * input} in it; returns the mean loss.
   */
  double forwardBackward(float[] input, int[] labels, int rows, StepKey key, float[] inputGrad) {
    if (inference) {
      throw new IllegalStateException(
          "an inference stack (DenseStack.forInference) holds no backward buffers; it does not"
              + " train");
    }
    if (rows < 1 || rows > maxBatch) {
      throw new IllegalArgumentException(
          "batch of " + rows + " examples; this fast path holds 1 to " + maxBatch);
    }
    long t = times == null ? 0 : System.nanoTime();
    long p = phases == null ? 0 : System.nanoTime();
    Products products = products(rows);
    if (bf16) {
      castWeights();
    }
    int n0 = rows * nIn[0];
    if (keep[0] < 1) {
      System.arraycopy(input, 0, hx[0], 0, n0);
      masks.apply(key, first, keep[0], hx[0], 0, rows, nIn[0]);
      store(x[0], hx[0], n0);
    } else {
      store(x[0], input, n0);
    }
    p = lap(p, INPUT);
    double loss = 0;
    for (int l = 0; l < layers; l++) {
      products.forward[l].run();
      p = lap(p, FORWARD_PRODUCTS);
      if (l < layers - 1) {
        hiddenOutput(l, rows, key, keep[l + 1]);
        p = lap(p, FORWARD_PASS);
      } else {
        int n = nOut[l];
        load(z[l], hz, rows * n);
        get(bias[l], hb, n);
        loss = softmaxCrossEntropy(labels, rows, n);
        store(delta[l], hz, rows * n);
        p = lap(p, SOFTMAX);
      }
      t = tick(t, 2 * l);
    }
    for (int l = layers - 1; l >= 0; l--) {
      // dW^T = delta^T x, straight into the flat gradient
      products.weightGradient[l].run();
      if (bf16) {
        widen(dwt16[l], dwt[l], nOut[l] * nIn[l]);
      }
      p = lap(p, WEIGHT_GRADIENT_PRODUCTS);
      if (l == 0 && inputGrad == null) {
        tick(t, 1);
        break;
      }
      products.inputGradient[l].run();
      p = lap(p, INPUT_GRADIENT_PRODUCTS);
      int n = nIn[l];
      if (l == 0) {
        load(g[0], inputGrad, rows * n);
        if (keep[0] < 1) {
          masks.apply(key, first, keep[0], inputGrad, 0, rows, n);
        }
        lap(p, BACKWARD_PASS);
        tick(t, 1);
        break;
      }
      load(g[l], hz, rows * n);
      activationGradient(l, rows, key);
      store(delta[l - 1], hz, rows * n);
      put(dbias[l - 1], hdb, n);
      p = lap(p, BACKWARD_PASS);
      t = tick(t, 2 * l + 1);
    }
    return loss;
  }

  /**
   * Hidden layer {@code l}'s output after its product: {@code x[l + 1] = mask * act(z + b)} over
   * {@code rows} rows, the mask layer l + 1's dropout of {@code keepNext} under {@code key} (1 and
   * null: none, as in evaluation).
   */
  private void hiddenOutput(int l, int rows, StepKey key, double keepNext) {
    int n = nOut[l];
    load(z[l], hz, rows * n);
    get(bias[l], hb, n);
    if (keepNext >= 1) {
      biasActivation(l, rows);
    } else {
      biasActivationDropout(l, rows, key, keepNext);
    }
    store(x[l + 1], hx[l + 1], rows * n);
  }

  /** The pass's products on {@code rows} rows: prepared once per row count in use. */
  private Products products(int rows) {
    if (rows == maxBatch) {
      if (full == null) {
        full = new Products(rows);
      }
      return full;
    }
    if (partial == null || partial.rows != rows) {
      if (partial != null) {
        partial.close();
      }
      partial = new Products(rows);
    }
    return partial;
  }

  /**
   * The matrix products of one pass over {@code rows} examples ({@link PreparedMatmul}): the same
   * products on the same arrays as {@link #matmul} would run, prepared once.
   */
  private final class Products implements AutoCloseable {
    final int rows;
    final PreparedMatmul[] forward = new PreparedMatmul[layers]; // z = x W
    final PreparedMatmul[] weightGradient = new PreparedMatmul[layers]; // dW^T = delta^T x
    final PreparedMatmul[] inputGradient = new PreparedMatmul[layers]; // g = delta W^T

    Products(int rows) {
      this.rows = rows;
      for (int l = 0; l < layers; l++) {
        INDArray xs = rowsOf(x[l], rows);
        forward[l] = new PreparedMatmul(xs, wt16[l], rowsOf(z[l], rows), false, true);
        if (inference) {
          continue;
        }
        INDArray ds = rowsOf(delta[l], rows);
        weightGradient[l] = new PreparedMatmul(ds, xs, dwt16[l], true, false);
        if (g[l] != null) {
          inputGradient[l] = new PreparedMatmul(ds, wt16[l], rowsOf(g[l], rows), false, false);
        }
      }
    }

    @Override
    public void close() {
      for (PreparedMatmul[] ps : new PreparedMatmul[][] {forward, weightGradient, inputGradient}) {
        for (PreparedMatmul m : ps) {
          if (m != null) {
            m.close();
          }
        }
      }
    }
  }

  /**
   * {@code x[l + 1] = act(z + b)} into {@code hx[l + 1]} from {@code hz} (z) and {@code hb} (b):
   * the output of a layer whose next layer has no dropout (evaluation, or none configured). Its own
   * method, not a branch of {@link #biasActivationDropout}: training with dropout never runs this
   * loop, so an evaluation between rounds meets no compiled code that assumed it never comes (the
   * JIT otherwise discards training's compiled loop at the first evaluation and compiles it again).
   */
  private void biasActivation(int l, int rows) {
    int n = nOut[l];
    float[] next = hx[l + 1];
    float[] b = hb;
    float[] v = hrow;
    boolean r = relu[l];
    for (int i = 0; i < rows; i++) {
      int at = i * n;
      // the row at index 0 of a scratch row: C2 packs a loop only when its arrays share the index
      System.arraycopy(hz, at, v, 0, n);
      if (r) {
        for (int c = 0; c < n; c++) {
          v[c] = BatchNormKernel.relu(v[c] + b[c]);
        }
      } else {
        for (int c = 0; c < n; c++) {
          v[c] = v[c] + b[c];
        }
      }
      System.arraycopy(v, 0, next, at, n);
    }
  }

  /**
   * {@code x[l + 1] = mask * act(z + b)} into {@code hx[l + 1]} from {@code hz} (z) and {@code hb}
   * (b): one pass, no branch per element; the mask is layer l + 1's dropout of keep probability
   * {@code k} (below 1). ReLU is {@link BatchNormKernel#relu} ({@code Math.max(v, 0f)} for |v| <
   * 2^127, in a form C2 vectorises).
   */
  private void biasActivationDropout(int l, int rows, StepKey key, double k) {
    int n = nOut[l];
    float[] next = hx[l + 1];
    float[] b = hb;
    float[] v = hrow;
    boolean r = relu[l];
    long threshold = DropoutMasks.threshold(k);
    float scale = (float) (1.0 / k);
    for (int i = 0; i < rows; i++) {
      int at = i * n;
      System.arraycopy(hz, at, v, 0, n);
      float[] m = masks.scales(key, first + l + 1, i, threshold, scale, n);
      if (r) {
        for (int c = 0; c < n; c++) {
          v[c] = BatchNormKernel.relu(v[c] + b[c]) * m[c];
        }
      } else {
        for (int c = 0; c < n; c++) {
          v[c] = (v[c] + b[c]) * m[c];
        }
      }
      System.arraycopy(v, 0, next, at, n);
    }
  }

  /**
   * Layer l - 1's {@code delta = g / keep * 1[x_l > 0]} in place in {@code hz} (g, layer l's input
   * gradient) and its bias gradient (the column sums) into {@code hdb}; one pass, no branch per
   * element. After a ReLU layer the kept, positive inputs are exactly the units whose gradient
   * passes, so dropout's mask is not drawn again; after an identity layer it is.
   */
  private void activationGradient(int l, int rows, StepKey key) {
    int n = nIn[l];
    float[] gs = hz;
    float[] in = hx[l];
    float[] db = hdb;
    float scale = (float) (1.0 / keep[l]);
    Arrays.fill(db, 0, n, 0f);
    if (!relu[l - 1]) {
      if (keep[l] < 1) {
        masks.apply(key, first + l, keep[l], gs, 0, rows, n);
      }
      for (int i = 0; i < rows; i++) {
        int at = i * n;
        for (int c = 0; c < n; c++) {
          db[c] += gs[at + c];
        }
      }
      return;
    }
    float[] v = hrow;
    float[] u = hrowIn;
    for (int i = 0; i < rows; i++) {
      int at = i * n;
      // the row at index 0 of scratch rows, and the mask as a product: C2 vectorises the loop
      System.arraycopy(gs, at, v, 0, n);
      System.arraycopy(in, at, u, 0, n);
      for (int c = 0; c < n; c++) {
        float d = reluGradient(v[c] * scale, u[c]);
        v[c] = d;
        db[c] += d;
      }
      System.arraycopy(v, 0, gs, at, n);
    }
  }

  /**
   * A ReLU layer's gradient {@code g} at an element whose output, after dropout, was {@code out}
   * ({@code >= 0}): {@code g} where {@code out > 0}, else +0, and +0 for a zero {@code g} of either
   * sign, without a branch ({@link BatchNormKernel#positive}), so that C2 vectorises the loop. For
   * a finite {@code g} the select's bits, except that a -0 where {@code out > 0} becomes +0 (equal
   * in every sum it enters); an infinite or NaN {@code g} where {@code out} is 0 gives NaN, not 0.
   */
  static float reluGradient(float g, float out) {
    return g * BatchNormKernel.positive(out) + 0f;
  }

  /**
   * Softmax and cross-entropy over the logits in {@code hz} (bias added here), rows x n, against
   * the labels smoothed as {@code LabelSmoothing} smooths them ({@code q = (1 - e) y + e / n});
   * leaves {@code delta = p - q} in {@code hz}, the output layer's bias gradient in its view,
   * counts the correct predictions; returns the mean loss.
   */
  private double softmaxCrossEntropy(int[] labels, int rows, int n) {
    double loss = 0;
    long right = 0;
    Arrays.fill(hdb, 0, n, 0f);
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
            "label " + y + " of example " + r + " is not one of " + n + " classes");
      }
      loss += crossEntropy(at, y, max, sum, n);
      if (arg == y) {
        right++;
      }
      float off = (float) (smoothing / n); // the target q: off + (1 - smoothing) at the label
      float on = (float) (1 - smoothing + smoothing / n);
      for (int c = 0; c < n; c++) {
        float p = (float) (Math.exp(hz[at + c] - max) / sum);
        float d = c == y ? p - on : p - off;
        hz[at + c] = d;
        hdb[c] += d;
      }
    }
    correct = right;
    put(dbias[layers - 1], hdb, n);
    return loss / rows;
  }

  /**
   * One row's cross-entropy from its logits at {@code hz[at...]} (bias added), their maximum and
   * {@code sum} of {@code exp(logit - max)}, against label {@code y} smoothed as {@code
   * LabelSmoothing} smooths it.
   */
  private double crossEntropy(int at, int y, float max, double sum, int n) {
    if (smoothing == 0) {
      return Math.log(sum) - (hz[at + y] - max);
    }
    double all = 0;
    for (int c = 0; c < n; c++) {
      all += hz[at + c] - max;
    }
    return Math.log(sum) - (1 - smoothing) * (hz[at + y] - max) - smoothing / n * all;
  }

  /**
   * Inference over {@code rows} examples of {@code input} (row-major, from row {@code from}),
   * without dropout (DL4J's inverted dropout acts in training only): the counts DL4J's evaluation
   * makes from the softmax output ({@code Dl4jReplica.evaluateClassifier}): correct when the
   * highest output (the first of equal ones) is the label's, top-5 correct when fewer than 5
   * outputs are strictly higher than the label's; and the loss summed over the examples, plus
   * {@code penalty} per example (the L1/L2 term DL4J's score adds to a batch's mean loss). Writes
   * the forward pass's own buffers only, never the gradient vector.
   */
  Evaluation evaluate(float[] input, int from, int[] labels, int rows, double penalty) {
    return evaluate(input, from, labels, from, rows, penalty);
  }

  /**
   * {@link #evaluate(float[], int, int[], int, double)} of the rows of {@code input} from row
   * {@code from}, whose labels are {@code labels} from index {@code labelsFrom} (a caller that
   * computed the features of a slice of its examples into a buffer of its own).
   */
  Evaluation evaluate(
      float[] input, int from, int[] labels, int labelsFrom, int rows, double penalty) {
    if (rows < 1 || rows > maxBatch) {
      throw new IllegalArgumentException(
          "batch of " + rows + " examples; this fast path holds 1 to " + maxBatch);
    }
    Products products = products(rows);
    if (bf16) {
      castWeights();
    }
    store(x[0], input, from * nIn[0], rows * nIn[0]);
    for (int l = 0; l < layers - 1; l++) {
      products.forward[l].run();
      hiddenOutput(l, rows, null, 1);
    }
    int out = layers - 1;
    products.forward[out].run();
    int n = nOut[out];
    load(z[out], hz, rows * n);
    get(bias[out], hb, n);
    float[] p = hrow;
    long right = 0;
    long top5 = 0;
    double loss = 0;
    for (int r = 0; r < rows; r++) {
      int at = r * n;
      int y = labels[labelsFrom + r];
      if (y < 0 || y >= n) {
        throw new IllegalArgumentException(
            "label " + y + " of example " + (labelsFrom + r) + " is not one of " + n + " classes");
      }
      float max = Float.NEGATIVE_INFINITY;
      for (int c = 0; c < n; c++) {
        float v = hz[at + c] + hb[c];
        hz[at + c] = v;
        max = Math.max(max, v);
      }
      double sum = 0;
      for (int c = 0; c < n; c++) {
        sum += Math.exp(hz[at + c] - max);
      }
      loss += crossEntropy(at, y, max, sum, n);
      int arg = 0;
      for (int c = 0; c < n; c++) {
        p[c] = (float) (Math.exp(hz[at + c] - max) / sum);
        arg = p[c] > p[arg] ? c : arg;
      }
      int higher = 0;
      for (int c = 0; c < n; c++) {
        higher += p[c] > p[y] ? 1 : 0;
      }
      right += arg == y ? 1 : 0;
      top5 += higher < 5 ? 1 : 0;
    }
    return new Evaluation(right, top5, loss + penalty * rows, rows);
  }

  /** Values per pass of the bf16 conversions: chunks that stay in L1/L2 between their passes. */
  private static final int CHUNK = 4096;

  /** bf16: {@code W^T} of every layer, rounded to bfloat16, into {@code wt16}. */
  private void castWeights() {
    short[] s = hs;
    float[] f = hw;
    for (int l = 0; l < layers; l++) {
      int n = nOut[l] * nIn[l];
      FloatBuffer from = floats(wt[l]);
      ShortBuffer to = shorts(wt16[l]);
      for (int at = 0; at < n; at += CHUNK) {
        int m = Math.min(CHUNK, n - at);
        from.get(f, 0, m);
        for (int i = 0; i < m; i++) {
          s[i] = toBf16(f[i]);
        }
        to.put(s, 0, m);
      }
    }
  }

  /** bf16: the bf16 weight-gradient product {@code from} widened into the float32 {@code to}. */
  private void widen(INDArray from, INDArray to, int n) {
    short[] s = hs;
    float[] f = hw;
    ShortBuffer in = shorts(from);
    FloatBuffer out = floats(to);
    for (int at = 0; at < n; at += CHUNK) {
      int m = Math.min(CHUNK, n - at);
      in.get(s, 0, m);
      for (int i = 0; i < m; i++) {
        f[i] = Float.intBitsToFloat(s[i] << 16);
      }
      out.put(f, 0, m);
    }
  }

  /** {@link #put}, rounding to bfloat16 when {@code target} is a bf16 array. */
  private void store(INDArray target, float[] values, int n) {
    store(target, values, 0, n);
  }

  /** {@link #put}, rounding to bfloat16 when {@code target} is a bf16 array. */
  private void store(INDArray target, float[] values, int from, int n) {
    if (target.dataType() != DataType.BFLOAT16) {
      FloatBuffer fb = floats(target);
      fb.put(values, from, n);
      return;
    }
    short[] s = hs;
    ShortBuffer to = shorts(target);
    for (int at = 0; at < n; at += CHUNK) {
      int m = Math.min(CHUNK, n - at);
      for (int i = 0; i < m; i++) {
        s[i] = toBf16(values[from + at + i]);
      }
      to.put(s, 0, m);
    }
  }

  /** {@link #get}, widening from bfloat16 when {@code source} is a bf16 array. */
  private void load(INDArray source, float[] values, int n) {
    if (source.dataType() != DataType.BFLOAT16) {
      get(source, values, n);
      return;
    }
    short[] s = hs;
    ShortBuffer from = shorts(source);
    for (int at = 0; at < n; at += CHUNK) {
      int m = Math.min(CHUNK, n - at);
      from.get(s, 0, m);
      for (int i = 0; i < m; i++) {
        values[at + i] = Float.intBitsToFloat(s[i] << 16);
      }
    }
  }

  /** A float32 array's buffer, positioned at its first element. */
  private static FloatBuffer floats(INDArray a) {
    FloatBuffer fb = a.data().asNioFloat();
    fb.position((int) a.offset());
    return fb;
  }

  /** A bf16 array's buffer as shorts, positioned at its first element. */
  private static ShortBuffer shorts(INDArray a) {
    ShortBuffer sb = a.data().asNio().order(ByteOrder.nativeOrder()).asShortBuffer();
    sb.position((int) a.offset());
    return sb;
  }

  /**
   * {@code v} rounded to the nearest bfloat16 (ties to even), as its 16 bits: the upper half of the
   * float's bits after adding half an ulp of bf16. Finite values only (a NaN may come out as an
   * infinity; the divergence check catches either).
   */
  static short toBf16(float v) {
    int bits = Float.floatToRawIntBits(v);
    return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
  }

  static INDArray rowsOf(INDArray a, int rows) {
    return rows == a.size(0) ? a : a.get(NDArrayIndex.interval(0, rows), NDArrayIndex.all());
  }

  /**
   * {@code out = op(a) op(b)} with libnd4j's matmul (oneDNN on the CPU backend), once: a {@link
   * PreparedMatmul} run and freed, which skips {@code Nd4j.exec}'s per-op Java path (same op, same
   * bits). For products on the same arrays every step, keep a {@link PreparedMatmul} instead.
   */
  static void matmul(INDArray a, INDArray b, INDArray out, boolean transA, boolean transB) {
    try (PreparedMatmul p = new PreparedMatmul(a, b, out, transA, transB)) {
      p.run();
    }
  }

  /** Copies {@code n} values into a contiguous array (or view) from its first element on. */
  static void put(INDArray target, float[] values, int n) {
    FloatBuffer fb = target.data().asNioFloat();
    fb.position((int) target.offset());
    fb.put(values, 0, n);
  }

  /** Copies the first {@code n} values of a contiguous array (or view). */
  static void get(INDArray source, float[] values, int n) {
    FloatBuffer fb = source.data().asNioFloat();
    fb.position((int) source.offset());
    fb.get(values, 0, n);
  }
}
