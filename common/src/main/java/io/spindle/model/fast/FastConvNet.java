package io.spindle.model.fast;

import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.InputKind;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.layers.convolution.Conv2D;
import org.nd4j.linalg.api.ops.impl.layers.convolution.MaxPooling2D;
import org.nd4j.linalg.api.ops.impl.layers.convolution.Pooling2D;
import org.nd4j.linalg.api.ops.impl.layers.convolution.Pooling2DDerivative;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Pooling2DConfig;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The fast convolution path (prototype, issue 13): one worker's forward and backward pass of a
 * convolutional network (2-D convolutions with ReLU or identity, batch normalisation, max pooling,
 * then dense layers and a softmax cross-entropy output), computing what DL4J's {@code
 * computeGradientAndScore} computes for the same network (with its oneDNN helpers, {@code
 * OneDnnKernels}): the mean loss, the gradient summed over the examples, and batch norm's
 * running-statistics updates in DL4J's convention ({@code RawUpdateRanges}).
 *
 * <p>Convolution and pooling are libnd4j's ops, each running on oneDNN, called directly with arrays
 * allocated once ({@code conv2d}/{@code conv2d_bp}, {@code maxpool2d}/{@code maxpool2d_bp}); a
 * first convolution over few input channels is one matrix product over patches ({@link
 * Im2colConv}), without the input gradient; batch normalisation is {@link BatchNormKernel}, fused
 * Java passes, which also applies the ReLU (forward and backward) of a convolution that feeds it; a
 * max pooling right after a batch norm is {@link MaxPoolKernel} on the batch norm's heap input: in
 * NHWC it applies the batch norm's scale and shift itself (the batch norm's output is never
 * written), its backward runs the batch norm's backward over the pooled gradient only
 * (non-overlapping windows), and the last one writes the dense layers' features directly. In such a
 * first block after a patch-product convolution, the convolution's output and output gradient are
 * never written out in full: its products run chunk by chunk (a few examples) inside the batch
 * norm's statistics pass and the pooled backward, through a cache-resident buffer. See
 * docs/cnn-step.md. What DL4J adds around the same oneDNN kernels is gone: its convolution layer
 * runs the forward product again in its backward pass, its pooling helper copies its input and
 * gradient, its batch norm computes statistics with ND4J reductions and corrects oneDNN's backward
 * in generic loops, and every layer allocates per call.
 *
 * <p>Layout. Activations are kept channels-last (NHWC) by default: oneDNN's fastest forward
 * convolution on AVX-512 (brgconv) works in NHWC, so DL4J's NCHW arrays cost a reorder into it and
 * one back around every convolution, and batch norm and pooling in NCHW run oneDNN's plain-layout
 * kernels; {@code channelsLast = false} keeps NCHW, to measure the difference. Weights stay in
 * DL4J's layout ([out, in, kH, kW]) and are read in place. The first dense layer reads features in
 * DL4J's (channel, row, column) order, so the last image activation is permuted once into it (and
 * its gradient back).
 *
 * <p>Dropout is applied to dense layers' inputs only, with the step's {@link StepKey} masks (see
 * {@link DenseStack}). Not thread-safe: one instance per worker thread.
 *
 * <p>Evaluation ({@link #forEvaluation}) is an instance of its own, with its own buffers, that runs
 * the same forward in DL4J's inference mode ({@code output(x, false)}): batch norm normalises with
 * its running statistics (read from the parameter vector, never updated), the dense part has no
 * dropout ({@link DenseStack#evaluate}); it writes neither the gradient vector nor the parameters.
 */
public final class FastConvNet implements FastPath {
  private enum Kind {
    CONV,
    BATCH_NORM,
    MAX_POOL
  }

  private final boolean nhwc;
  private final boolean evaluation; // inference only: running statistics, no backward buffers
  private final int maxBatch;
  private final int images; // layers before the dense part
  private final Kind[] kind;
  private final int[][] inShape; // {C, H, W} per image layer
  private final int[][] outShape;
  private final boolean[] relu;
  private final Object[] config; // Conv2DConfig or Pooling2DConfig
  private final long[][] convArgs;
  private final INDArray[] weights; // conv: [oC, iC, kH, kW] views; bn: gamma
  private final INDArray[] biases; // conv: bias; bn: beta
  private final INDArray[] dWeights;
  private final INDArray[] dBiases;
  private final INDArray[] runMean; // bn: the running-mean parameter view
  private final INDArray[] runVar; // bn: running variance or log10 std view
  private final INDArray[] dRunMean;
  private final INDArray[] dRunVar;
  private final boolean[] logStd;
  private final double[] decay;
  private final double[] eps;
  private final BatchNormKernel[] norm;
  private final boolean[] reluFolded; // conv whose ReLU runs in the next batch norm
  private final Im2colConv firstConv; // layer 0 as one product over patches, or null
  // layer 0's products chunk by chunk inside layer 1's statistics pass (forward) and layer 2's
  // pooled backward (the batch norm's input gradient), through a cache-resident buffer
  private final boolean chunkedFirst;
  private final boolean[] scaledPool; // max pooling that applies its batch norm's scale itself
  private final boolean flatPool; // the last image layer pools straight into hFlat
  private final boolean[] poolsBackward; // scaled pooling that also runs its batch norm's backward
  private final MaxPoolKernel[] pool; // max pooling fed by the batch norm before it, on the heap
  private float[] pooledGrad; // gradient at such a pool's input, for the batch norm's backward
  private final INDArray[] act; // act[l]: output of image layer l
  private final INDArray[] grad; // grad[l]: gradient at act[l]
  private final INDArray[] scratch; // conv: gradient at the pre-activation
  private final INDArray input; // the first layer's input, maxBatch x layout
  private final INDArray inputGrad; // gradient at the input (computed by conv2d_bp, unused)
  private final INDArray flat; // last image activation in (C, H, W) order, maxBatch x C*H*W
  private final float[] hFlat;
  private final float[] hFlatGrad;
  private final float[] slice; // evaluation: the features of a slice that starts after row 0
  private final DenseStack dense;
  private long[] times;

  private FastConvNet(
      MultiLayerNetwork net,
      ModelConfig model,
      int numInputs,
      int maxBatch,
      boolean nhwc,
      boolean evaluation) {
    if (!supports(model, numInputs)) {
      throw new IllegalArgumentException(
          "the fast convolution path takes conv2d (relu or identity), batch_norm and max_pool"
              + " (no padding) layers on an image input, then dense layers and a softmax"
              + " cross_entropy output, in float32; got "
              + model);
    }
    this.nhwc = nhwc;
    this.evaluation = evaluation;
    this.maxBatch = maxBatch;
    List<LayerConfig> layers = model.layers();
    int n = 0;
    while (isImageLayer(layers.get(n).type())) {
      n++;
    }
    images = n;
    kind = new Kind[n];
    inShape = new int[n][];
    outShape = new int[n][];
    relu = new boolean[n];
    config = new Object[n];
    convArgs = new long[n][];
    weights = new INDArray[n];
    biases = new INDArray[n];
    dWeights = new INDArray[n];
    dBiases = new INDArray[n];
    runMean = new INDArray[n];
    runVar = new INDArray[n];
    dRunMean = new INDArray[n];
    dRunVar = new INDArray[n];
    logStd = new boolean[n];
    decay = new double[n];
    eps = new double[n];
    norm = new BatchNormKernel[n];
    reluFolded = new boolean[n];
    pool = new MaxPoolKernel[n];
    act = new INDArray[n];
    grad = new INDArray[n];
    scratch = new INDArray[n];
    if (evaluation) {
      FastPath.ensureGradientsView(net); // keeps the training path's gradient vector
    } else {
      net.initGradientsView();
    }
    INDArray params = net.params().reshape(net.numParams());
    INDArray grads = net.getFlattenedGradients().reshape(net.numParams());
    InputConfig in = model.inputFor(numInputs);
    int[] shape = {in.channels(), in.height(), in.width()};
    input = image(maxBatch, shape);
    long offset = 0;
    for (int l = 0; l < n; l++) {
      LayerConfig c = layers.get(l);
      Layer layer = net.getLayer(l);
      Map<String, INDArray> p = views(layer, params, grads, offset);
      offset += layer.numParams();
      inShape[l] = shape;
      switch (c.type()) {
        case CONV2D -> {
          kind[l] = Kind.CONV;
          relu[l] = c.activation() == Activation.RELU;
          shape = new int[] {c.filters(), side(shape[1], c), side(shape[2], c)};
          Conv2DConfig conv = convConfig(c, nhwc);
          config[l] = conv;
          weights[l] = p.get("W");
          biases[l] = p.get("b").reshape(c.filters());
          dWeights[l] = p.get("dW");
          dBiases[l] = p.get("db").reshape(c.filters());
          convArgs[l] =
              new Conv2D(
                      new INDArray[] {input, weights[l], biases[l]}, new INDArray[] {input}, conv)
                  .iArgs();
          scratch[l] = evaluation ? null : image(maxBatch, shape);
        }
        case BATCH_NORM -> {
          kind[l] = Kind.BATCH_NORM;
          var bn = (org.deeplearning4j.nn.conf.layers.BatchNormalization) layer.conf().getLayer();
          logStd[l] = bn.isUseLogStd();
          decay[l] = bn.getDecay();
          eps[l] = bn.getEps();
          int ch = shape[0];
          INDArray[] v = BatchNormKernel.views(p, ch, logStd[l]);
          weights[l] = v[0];
          biases[l] = v[1];
          dWeights[l] = v[2];
          dBiases[l] = v[3];
          runMean[l] = v[4];
          runVar[l] = v[5];
          dRunMean[l] = v[6];
          dRunVar[l] = v[7];
          int pixels = shape[1] * shape[2];
          norm[l] =
              evaluation
                  ? BatchNormKernel.forInference(
                      ch, pixels, maxBatch, nhwc, eps[l], runMean[l], runVar[l], logStd[l])
                  : new BatchNormKernel(ch, pixels, maxBatch, nhwc, eps[l]);
          if (l > 0 && kind[l - 1] == Kind.CONV && relu[l - 1]) {
            reluFolded[l - 1] = true; // batch norm's backward applies the conv's ReLU backward
          }
        }
        case MAX_POOL -> {
          kind[l] = Kind.MAX_POOL;
          if (l > 0 && kind[l - 1] == Kind.BATCH_NORM) {
            pool[l] =
                evaluation // channels-last: the pooling applies the batch norm's scale and shift
                    ? MaxPoolKernel.forInference(
                        shape[0], shape[1], shape[2], c.kernel(), c.stride(), maxBatch)
                    : new MaxPoolKernel(
                        shape[0], shape[1], shape[2], c.kernel(), c.stride(), maxBatch, nhwc);
          }
          shape = new int[] {shape[0], side(shape[1], c), side(shape[2], c)};
          config[l] =
              Pooling2DConfig.builder()
                  .kH(c.kernel())
                  .kW(c.kernel())
                  .sH(c.stride())
                  .sW(c.stride())
                  .pH(0)
                  .pW(0)
                  .dH(1)
                  .dW(1)
                  .paddingMode(PaddingMode.VALID)
                  .type(Pooling2D.Pooling2DType.MAX)
                  .isNHWC(nhwc)
                  .build();
        }
        default -> throw new IllegalStateException("not an image layer: " + c.type());
      }
      outShape[l] = shape;
      act[l] = evaluation ? null : image(maxBatch, shape); // evaluation: below
      grad[l] = evaluation ? null : image(maxBatch, shape);
    }
    LayerConfig c0 = layers.get(0);
    if (!nhwc || kind[0] != Kind.CONV || !Im2colConv.suits(inShape[0][0], c0.kernel())) {
      firstConv = null;
    } else if (evaluation) {
      firstConv =
          Im2colConv.forInference(inShape[0], c0, outShape[0], maxBatch, chunksFirstBlock(n));
    } else {
      firstConv = Im2colConv.of(inShape[0], c0, outShape[0], maxBatch, chunksFirstBlock(n));
    }
    scaledPool = new boolean[n];
    for (int l = 0; l < n; l++) {
      scaledPool[l] = nhwc && pool[l] != null;
    }
    flatPool = scaledPool[n - 1];
    poolsBackward = new boolean[n];
    for (int l = 0; l < n; l++) {
      poolsBackward[l] = scaledPool[l] && pool[l].disjoint();
    }
    chunkedFirst = firstConv != null && chunksFirstBlock(n);
    if (evaluation) { // training's backward reads every layer's output; evaluation's forward not
      for (int l = 0; l < n; l++) {
        act[l] = writesOutput(l) ? image(maxBatch, outShape[l]) : null;
      }
    }
    inputGrad = evaluation ? null : image(maxBatch, inShape[0]);
    int features = shape[0] * shape[1] * shape[2];
    flat = evaluation && flatPool ? null : Nd4j.create(DataType.FLOAT, maxBatch, features);
    hFlat = new float[maxBatch * features];
    hFlatGrad = evaluation ? null : new float[maxBatch * features];
    slice = evaluation ? new float[maxBatch * inShape[0][0] * inShape[0][1] * inShape[0][2]] : null;
    dense =
        evaluation
            ? DenseStack.forInference(
                params, offset, layers.subList(n, layers.size()), n, features, maxBatch)
            : new DenseStack(
                params,
                grads,
                offset,
                layers.subList(n, layers.size()),
                n,
                features,
                maxBatch,
                true); // the gradient at the features, for the image layers' backward
    if (offset + dense.numParams() != net.numParams()) {
      throw new IllegalStateException(
          "layers cover "
              + (offset + dense.numParams())
              + " parameters, the network has "
              + net.numParams());
    }
  }

  /**
   * Whether the first block (a convolution, a batch norm, a max pooling that applies it and runs
   * its backward; channels-last) exchanges the convolution's output and gradient with the batch
   * norm chunk by chunk.
   */
  private boolean chunksFirstBlock(int n) {
    return nhwc
        && n > 2
        && kind[0] == Kind.CONV
        && kind[1] == Kind.BATCH_NORM
        && pool[2] != null
        && pool[2].disjoint();
  }

  /**
   * Whether the forward writes image layer l's output into {@code act[l]}: not a first convolution
   * whose products run chunk by chunk in the batch norm's pass, nor a batch norm whose pooling
   * reads its heap input (or output), nor a last pooling that writes the dense part's features.
   */
  private boolean writesOutput(int l) {
    return switch (kind[l]) {
      case CONV -> !(l == 0 && chunkedFirst);
      case BATCH_NORM -> !(l + 1 < images && pool[l + 1] != null);
      case MAX_POOL -> !(flatPool && l == images - 1);
    };
  }

  /**
   * A fast path over {@code net}'s own parameter and gradient vectors, for batches of up to {@code
   * maxBatch} examples of {@code numInputs} features; channels-last activations when {@code
   * channelsLast}.
   */
  public static FastConvNet of(
      MultiLayerNetwork net, ModelConfig model, int numInputs, int maxBatch, boolean channelsLast) {
    return new FastConvNet(net, model, numInputs, maxBatch, channelsLast, false);
  }

  /**
   * A fast path that only evaluates ({@link #evaluate}), channels-last, for slices of up to {@code
   * maxBatch} examples: buffers of its own, so that it never changes what a training instance over
   * the same network computes, and only the forward's (inference kernels, {@link
   * BatchNormKernel#forInference}, {@link MaxPoolKernel#forInference}, {@link
   * Im2colConv#forInference}; no array for an output the forward never writes).
   */
  static FastConvNet forEvaluation(
      MultiLayerNetwork net, ModelConfig model, int numInputs, int maxBatch) {
    return new FastConvNet(net, model, numInputs, maxBatch, true, true);
  }

  /** Whether the fast path computes {@code model} on {@code numInputs} features. */
  public static boolean supports(ModelConfig model, int numInputs) {
    if (model.precision() != Precision.FLOAT32
        || model.inputFor(numInputs).type() != InputKind.IMAGE) {
      return false;
    }
    List<LayerConfig> layers = model.layers();
    int n = 0;
    while (n < layers.size() && isImageLayer(layers.get(n).type())) {
      LayerConfig c = layers.get(n);
      if (c.type() == LayerType.CONV2D
          && c.activation() != Activation.RELU
          && c.activation() != Activation.IDENTITY) {
        return false;
      }
      if (c.type() == LayerType.MAX_POOL && c.padding() != 0) {
        return false;
      }
      if (c.type() == LayerType.CONV2D && c.dropout() != 0) {
        return false;
      }
      n++;
    }
    return n > 0 && DenseStack.supports(layers.subList(n, layers.size()));
  }

  /**
   * libnd4j's configuration of the convolution {@code c} (explicit padding, DL4J's [out, in, kH,
   * kW] weights) on activations in NHWC ({@code nhwc}) or NCHW.
   */
  static Conv2DConfig convConfig(LayerConfig c, boolean nhwc) {
    return Conv2DConfig.builder()
        .kH(c.kernel())
        .kW(c.kernel())
        .sH(c.stride())
        .sW(c.stride())
        .pH(c.padding())
        .pW(c.padding())
        .dH(1)
        .dW(1)
        .paddingMode(PaddingMode.VALID)
        .dataFormat(nhwc ? Conv2DConfig.NHWC : Conv2DConfig.NCHW)
        .weightsFormat(WeightsFormat.OIYX)
        .build();
  }

  static boolean isImageLayer(LayerType t) {
    return t == LayerType.CONV2D || t == LayerType.BATCH_NORM || t == LayerType.MAX_POOL;
  }

  private static int side(int n, LayerConfig c) {
    return (n + 2 * c.padding() - c.kernel()) / c.stride() + 1;
  }

  /** An activation array for {@code batch} images of {C, H, W} in this net's layout. */
  private INDArray image(int batch, int[] chw) {
    return nhwc
        ? Nd4j.create(DataType.FLOAT, batch, chw[1], chw[2], chw[0])
        : Nd4j.create(DataType.FLOAT, batch, chw[0], chw[1], chw[2]);
  }

  /**
   * The layer's parameter views ({@code name}) and gradient views ({@code "d" + name}) in the flat
   * vectors, shaped as DL4J shapes them, from the layer's parameter table (in flat-vector order).
   */
  static Map<String, INDArray> views(Layer layer, INDArray params, INDArray grads, long offset) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    long at = offset;
    for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
      INDArray v = e.getValue();
      long len = v.length();
      char order = v.ordering();
      long[] shape = v.shape();
      out.put(e.getKey(), params.get(NDArrayIndex.interval(at, at + len)).reshape(order, shape));
      out.put(
          "d" + e.getKey(), grads.get(NDArrayIndex.interval(at, at + len)).reshape(order, shape));
      at += len;
    }
    if (at - offset != layer.numParams()) {
      throw new IllegalStateException("parameter table of " + layer + " does not cover its vector");
    }
    return out;
  }

  /**
   * Forward and backward pass over {@code rows} examples ({@code features}: rows x (C*H*W) in
   * DL4J's (channel, row, column) order; {@code labels}: class indices) with the dropout masks of
   * {@code key}. Leaves the gradient summed over the examples (and batch norm's running-statistics
   * updates) in the network's flat gradient vector; returns the mean loss.
   */
  @Override
  public double computeGradient(float[] features, int[] labels, int rows, StepKey key) {
    if (evaluation) {
      throw new IllegalStateException("an evaluation instance does not train");
    }
    checkRows(rows);
    INDArray x = forwardImages(features, rows);
    if (!flatPool) {
      flatten(x, rows);
    }
    double loss = dense.forwardBackward(hFlat, labels, rows, key, hFlatGrad);
    long t = times == null ? 0 : System.nanoTime();
    if (!flatPool) {
      unflatten(rows(grad[images - 1], rows), rows);
    }
    for (int l = images - 1; l >= 0; l--) {
      INDArray in = l == 0 ? rows(input, rows) : rows(act[l - 1], rows);
      INDArray gIn = l == 0 ? rows(inputGrad, rows) : rows(grad[l - 1], rows);
      INDArray gOut = rows(grad[l], rows);
      switch (kind[l]) {
        case CONV -> {
          INDArray gz = gOut;
          if (relu[l] && !reluFolded[l]) {
            gz = rows(scratch[l], rows);
            exec(
                "relu_bp",
                new INDArray[] {rows(act[l], rows), gOut},
                new INDArray[] {gz},
                null,
                new double[] {0});
          }
          if (l == 0 && chunkedFirst) {
            firstConv.finishBackward(dWeights[0], dBiases[0]); // products done in layer 2's
          } else if (l == 0 && firstConv != null) {
            firstConv.backward(gz, dWeights[0], dBiases[0]); // no gradient for the input
          } else {
            exec(
                "conv2d_bp",
                new INDArray[] {in, weights[l], biases[l], gz},
                new INDArray[] {gIn, dWeights[l], dBiases[l]},
                convArgs[l],
                null);
          }
        }
        case BATCH_NORM -> {
          boolean relu = l > 0 && reluFolded[l - 1];
          if (l + 1 < images && poolsBackward[l + 1]) {
            // done by the pooling above, in one pass with its own backward
          } else if (l + 1 < images && pool[l + 1] != null) {
            norm[l].backward(pooledGrad, gIn, dWeights[l], dBiases[l], relu);
          } else {
            norm[l].backward(gOut, gIn, dWeights[l], dBiases[l], relu);
          }
        }
        case MAX_POOL -> {
          if (poolsBackward[l]) {
            int b = l - 1;
            boolean flat = flatPool && l == images - 1;
            pool[l].backwardInto(
                norm[b],
                flat ? null : gOut,
                hFlatGrad,
                gIn(b, rows),
                dWeights[b],
                dBiases[b],
                b > 0 && reluFolded[b - 1],
                b == 1 && chunkedFirst ? firstConv : null);
          } else if (flatPool && l == images - 1) {
            pooledGrad = pool[l].backwardFlat(hFlatGrad);
          } else if (pool[l] != null) {
            pooledGrad = pool[l].backward(gOut); // the batch norm below reads it from the heap
          } else {
            Nd4j.exec(new Pooling2DDerivative(in, gOut, gIn, (Pooling2DConfig) config[l]));
          }
        }
      }
      t = tick(t, 2 * l + 1);
    }
    return loss;
  }

  /**
   * Test-set counts of {@code rows} examples of {@code features} from row {@code from}, in DL4J's
   * inference mode: the image layers' forward with batch norm's running statistics, then the dense
   * part's {@link DenseStack#evaluate} (no dropout; DL4J's counts and loss). Only an instance from
   * {@link #forEvaluation} evaluates.
   */
  @Override
  public Evaluation evaluate(float[] features, int from, int[] labels, int rows, double penalty) {
    if (!evaluation) {
      throw new UnsupportedOperationException(
          "a training instance does not evaluate; FastConvNet.forEvaluation builds one that does");
    }
    checkRows(rows);
    float[] x = features;
    if (from > 0) { // the forward reads its examples from row 0
      int per = slice.length / maxBatch;
      System.arraycopy(features, from * per, slice, 0, rows * per);
      x = slice;
    }
    INDArray last = forwardImages(x, rows);
    if (!flatPool) {
      flatten(last, rows);
    }
    return dense.evaluate(hFlat, 0, labels, from, rows, penalty);
  }

  private void checkRows(int rows) {
    if (rows < 1 || rows > maxBatch) {
      throw new IllegalArgumentException(
          "batch of " + rows + " examples; this fast path holds 1 to " + maxBatch);
    }
  }

  /**
   * The image layers' forward pass over {@code rows} examples of {@code features} (from row 0);
   * returns the last image layer's output (not written when it pools straight into {@link #hFlat}).
   * Training: batch statistics, whose running-statistics updates go into the gradient vector;
   * evaluation: the running statistics, nothing written outside this instance's buffers.
   */
  private INDArray forwardImages(float[] features, int rows) {
    long t = times == null ? 0 : System.nanoTime();
    if (firstConv == null) {
      loadInput(features, rows);
    }
    INDArray x = rows(input, rows);
    for (int l = 0; l < images; l++) {
      INDArray out = act[l] == null ? null : rows(act[l], rows); // null: not written (evaluation)
      switch (kind[l]) {
        case CONV -> {
          if (l == 0 && chunkedFirst) {
            firstConv.prepare(features, rows, weights[0], biases[0]); // products in layer 1
          } else if (l == 0 && firstConv != null) {
            firstConv.forward(features, rows, weights[0], biases[0], out);
          } else {
            exec(
                "conv2d",
                new INDArray[] {x, weights[l], biases[l]},
                new INDArray[] {out},
                convArgs[l],
                null);
          }
          if (relu[l] && !reluFolded[l]) {
            exec("relu", new INDArray[] {out}, new INDArray[] {out}, null, new double[] {0});
          }
        }
        case BATCH_NORM -> {
          boolean pooled = l + 1 < images && pool[l + 1] != null;
          boolean reluIn = l > 0 && reluFolded[l - 1];
          if (l == 1 && chunkedFirst) {
            norm[l].forwardChunked(firstConv, rows, weights[l], biases[l], reluIn);
          } else if (pooled && scaledPool[l + 1]) {
            norm[l].forward(x, null, rows, weights[l], biases[l], reluIn, false);
          } else {
            norm[l].forward(x, pooled ? null : out, rows, weights[l], biases[l], reluIn);
          }
          if (!evaluation) {
            runningUpdates(l);
          }
        }
        case MAX_POOL -> {
          if (scaledPool[l]) {
            BatchNormKernel bn = norm[l - 1];
            if (l == images - 1) {
              pool[l].forwardFlat(bn.input(), bn.scale(), bn.shift(), rows, hFlat);
            } else {
              pool[l].forward(bn.input(), bn.scale(), bn.shift(), rows, out);
            }
          } else if (pool[l] != null) {
            pool[l].forward(norm[l - 1].output(), rows, out);
          } else {
            Nd4j.exec(new MaxPooling2D(x, out, (Pooling2DConfig) config[l]));
          }
        }
      }
      x = out;
      t = tick(t, 2 * l);
    }
    return x;
  }

  /** Correct predictions (arg-max of the output's logits) of the last forward pass. */
  @Override
  public long correct() {
    return dense.correct();
  }

  /**
   * Adds each layer's forward time to {@code nanos[2 l]} and its backward time to {@code nanos[2 l
   * + 1]}, l over all layers of the network, on every later pass (for the profiler; null stops it).
   * The input and flattening copies count to the first image layer and the first dense layer.
   */
  @Override
  public void recordTimes(long[] nanos) {
    this.times = nanos;
    dense.recordTimes(nanos, 2 * images);
  }

  /** The gradient at image layer l's input, rows examples. */
  private INDArray gIn(int l, int rows) {
    return l == 0 ? rows(inputGrad, rows) : rows(grad[l - 1], rows);
  }

  private long tick(long since, int counter) {
    return lap(times, since, counter);
  }

  /**
   * Adds the nanoseconds since {@code since} to {@code times[counter]} and returns the time now;
   * with {@code times} null (no profiling) 0, without reading the clock.
   */
  static long lap(long[] times, long since, int counter) {
    if (times == null) {
      return 0;
    }
    long now = System.nanoTime();
    times[counter] += now - since;
    return now;
  }

  private void loadInput(float[] features, int rows) {
    loadImages(features, rows, inShape[0], nhwc, input, hFlat);
  }

  /**
   * Copies {@code rows} images ({@code features} in DL4J's (channel, row, column) order, {C, H, W}
   * {@code chw}) into {@code input}, channels-last when {@code nhwc}; {@code spare} is a heap
   * buffer for the transposition (a new one when it is too small).
   */
  static void loadImages(
      float[] features, int rows, int[] chw, boolean nhwc, INDArray input, float[] spare) {
    int[] s = chw;
    int per = s[0] * s[1] * s[2];
    if (!nhwc || s[0] == 1) {
      DenseStack.put(input, features, rows * per); // (C, H, W) order, or one channel
      return;
    }
    float[] t = spare.length >= rows * per ? spare : new float[rows * per];
    int hw = s[1] * s[2];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < s[0]; c++) {
        for (int i = 0; i < hw; i++) {
          t[r * per + i * s[0] + c] = features[r * per + c * hw + i];
        }
      }
    }
    DenseStack.put(input, t, rows * per);
  }

  /** The activation as (rows x C*H*W) in DL4J's (channel, row, column) order, into hFlat. */
  private void flatten(INDArray x, int rows) {
    int[] s = outShape[images - 1];
    int per = s[0] * s[1] * s[2];
    if (nhwc) {
      INDArray f = rows(flat, rows).reshape('c', rows, s[0], s[1], s[2]);
      f.assign(x.permute(0, 3, 1, 2));
      DenseStack.get(flat, hFlat, rows * per);
    } else {
      DenseStack.get(x, hFlat, rows * per);
    }
  }

  /** The gradient at the flattened features (hFlatGrad) back into the last activation's layout. */
  private void unflatten(INDArray g, int rows) {
    int[] s = outShape[images - 1];
    int per = s[0] * s[1] * s[2];
    if (nhwc) {
      DenseStack.put(flat, hFlatGrad, rows * per);
      INDArray f = rows(flat, rows).reshape('c', rows, s[0], s[1], s[2]);
      g.assign(f.permute(0, 2, 3, 1));
    } else {
      DenseStack.put(g, hFlatGrad, rows * per);
    }
  }

  private void runningUpdates(int l) {
    norm[l].runningUpdates(runMean[l], runVar[l], dRunMean[l], dRunVar[l], decay[l], logStd[l]);
  }

  static INDArray rows(INDArray a, int rows) {
    return rows == a.size(0) ? a : a.get(NDArrayIndex.interval(0, rows));
  }

  static void exec(String op, INDArray[] in, INDArray[] out, long[] iArgs, double[] tArgs) {
    DynamicCustomOp.DynamicCustomOpsBuilder b =
        DynamicCustomOp.builder(op).addInputs(in).addOutputs(out);
    if (iArgs != null) {
      int[] ints = new int[iArgs.length];
      for (int i = 0; i < ints.length; i++) {
        ints[i] = Math.toIntExact(iArgs[i]);
      }
      b.addIntegerArguments(ints);
    }
    if (tArgs != null) {
      Double[] ds = new Double[tArgs.length];
      for (int i = 0; i < ds.length; i++) {
        ds[i] = tArgs[i];
      }
      b.addFloatingPointArguments(ds);
    }
    Nd4j.exec(b.build());
  }

  /** The names of the image layers' kinds, for reports. */
  List<String> kinds() {
    List<String> k = new ArrayList<>();
    for (Kind x : kind) {
      k.add(x.name());
    }
    return k;
  }
}
