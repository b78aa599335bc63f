package io.spindle.model.fast;

import io.spindle.config.Activation;
import io.spindle.config.GraphLayout;
import io.spindle.config.InputConfig;
import io.spindle.config.InputKind;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.model.StepKey;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.Conv2D;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The fast path of a graph model (issue 15 on issue 13's kernels): one worker's forward and
 * backward pass of the residual networks that {@code GraphFactory} builds from a graph config (the
 * {@code resnet<6n+2>} presets with option A or B shortcuts, and any graph of the same vertices),
 * computing what DL4J's {@code ComputationGraph.computeGradientAndScore} computes for it: the mean
 * loss, the gradient summed over the examples in the graph's flat order, and batch norm's
 * running-statistics updates in DL4J's convention.
 *
 * <p>Vertices covered, each a node of the config's {@link GraphLayout}, run in the layout's order
 * (which is topological) and backwards in reverse:
 *
 * <ul>
 *   <li>{@code conv2d} (identity activation, with or without bias, any kernel, stride, padding):
 *       libnd4j's {@code conv2d}/{@code conv2d_bp} on oneDNN, as in {@link FastConvNet}; the one
 *       convolution reading the input is {@link Im2colConv} when the input has few channels;
 *   <li>{@code batch_norm}: {@link BatchNormKernel}, which also applies a relu that is its one
 *       consumer (forward and backward, in its Java passes; the relu's arrays are the batch
 *       norm's);
 *   <li>{@code activation} relu elsewhere: libnd4j's {@code relu}/{@code relu_bp};
 *   <li>{@code add}: libnd4j's {@code add}; its gradient goes to every input;
 *   <li>{@code shortcut} (option A: every stride-th pixel, channels zero-padded; DL4J builds it as
 *       a 1x1 max pooling, zero-scaled copies and a merge): one Java pass each way;
 *   <li>{@code global_avg_pool}: one Java pass each way;
 *   <li>the {@code output} layer (softmax, cross-entropy with the config's label smoothing), last,
 *       on the pooled features: {@link DenseStack}.
 * </ul>
 *
 * <p>Activations are channels-last (NHWC), each vertex's output and gradient in arrays allocated
 * once for the largest batch. A vertex whose output feeds several vertices (a block's input feeds
 * its branch and its shortcut) receives its gradient as a sum: the first consumer in backward order
 * writes it, later ones add theirs. Parameters are read in place from the graph's flat parameter
 * vector (DL4J's topological order of the vertices), gradients written in place into its flat
 * gradient vector. Not thread-safe: one instance per worker thread.
 */
public final class FastResidualNet implements FastPath {
  private enum Op {
    CONV,
    BATCH_NORM,
    RELU,
    ADD,
    SHORTCUT,
    GLOBAL_AVG_POOL,
    OUTPUT
  }

  private static final int INPUT = -1;

  private final int maxBatch;
  private final int nodes;
  private final Op[] op;
  private final int[][] from; // input vertices (INPUT: the graph input)
  private final boolean[][] firstGrad; // from[i][k]'s gradient is written (not added) by i
  private final boolean[] folded; // a relu that the batch norm before it applies
  private final int[][] shape; // {C, H, W} of each vertex's output
  private final int[] stride; // shortcut
  private final long[][] convArgs;
  private final INDArray[] weights; // conv: W; bn: gamma
  private final INDArray[] biases; // conv: b or null; bn: beta
  private final INDArray[] dWeights;
  private final INDArray[] dBiases;
  private final INDArray[][] running; // bn: mean, var (or log10 std), their gradient views
  private final double[] decay;
  private final boolean[] logStd;
  private final BatchNormKernel[] norm;
  private final ReluKernel reluKernel = new ReluKernel(); // relus no batch norm folds; add + relu
  private final INDArray[] act;
  private final INDArray[] grad;
  private final INDArray[] spare; // a gradient contribution to add to its input's gradient
  private final int[] inShape;
  private final INDArray input; // the input in NHWC, when no Im2colConv reads it
  private final INDArray inputGrad;
  private final Im2colConv firstConv;
  private final int pooledChannels;
  private final float[] pooled;
  private final float[] pooledGrad;
  private final float[] heapIn;
  private final float[] heapOut;
  private final DenseStack dense;
  private long[] times;

  private FastResidualNet(ComputationGraph net, ModelConfig model, int numInputs, int maxBatch) {
    String why = FastPath.unsupported(model, numInputs);
    if (why != null) {
      throw new IllegalArgumentException(why);
    }
    this.maxBatch = maxBatch;
    List<GraphLayout.Node> list = model.graph().nodes();
    nodes = list.size();
    op = new Op[nodes];
    from = new int[nodes][];
    firstGrad = new boolean[nodes][];
    shape = new int[nodes][];
    stride = new int[nodes];
    convArgs = new long[nodes][];
    weights = new INDArray[nodes];
    biases = new INDArray[nodes];
    dWeights = new INDArray[nodes];
    dBiases = new INDArray[nodes];
    running = new INDArray[nodes][];
    decay = new double[nodes];
    logStd = new boolean[nodes];
    norm = new BatchNormKernel[nodes];
    act = new INDArray[nodes];
    grad = new INDArray[nodes];
    spare = new INDArray[nodes];
    net.initGradientsView();
    INDArray params = net.params().reshape(net.numParams());
    INDArray grads = net.getFlattenedGradients().reshape(net.numParams());
    Map<String, Long> offsets = offsets(net);
    Map<String, Integer> index = new HashMap<>();
    index.put(GraphLayout.INPUT, INPUT);
    InputConfig in = model.inputFor(numInputs);
    inShape = new int[] {in.channels(), in.height(), in.width()};
    int largest = inShape[0] * inShape[1] * inShape[2];
    Im2colConv stem = null;
    DenseStack out = null;
    // a batch norm or a two-input add whose one consumer is a relu applies it (folded[relu] = true)
    folded = new boolean[nodes];
    Map<String, Integer> consumers = new HashMap<>();
    for (GraphLayout.Node node : list) {
      node.inputs().forEach(s -> consumers.merge(s, 1, Integer::sum));
    }
    for (int i = 1; i < nodes; i++) {
      GraphLayout.Node prev = list.get(i - 1);
      folded[i] =
          list.get(i).layer().type() == LayerType.ACTIVATION
              && list.get(i).inputs().equals(List.of(prev.name()))
              && (prev.layer().type() == LayerType.BATCH_NORM
                  || (prev.layer().type() == LayerType.ADD && prev.inputs().size() == 2))
              && consumers.get(prev.name()) == 1;
    }
    for (int i = 0; i < nodes; i++) {
      GraphLayout.Node node = list.get(i);
      LayerConfig c = node.layer();
      index.put(node.name(), i);
      from[i] = node.inputs().stream().mapToInt(index::get).toArray();
      int[] s = from[i][0] == INPUT ? inShape : shape[from[i][0]];
      org.deeplearning4j.nn.api.Layer layer =
          c.type().graphOnly() ? null : net.getLayer(node.name());
      Map<String, INDArray> p =
          layer == null || layer.numParams() == 0
              ? Map.of()
              : FastConvNet.views(layer, params, grads, offsets.get(node.name()));
      switch (c.type()) {
        case CONV2D -> {
          op[i] = Op.CONV;
          int side = c.kernel();
          shape[i] =
              new int[] {
                c.filters(),
                (s[1] + 2 * c.padding() - side) / c.stride() + 1,
                (s[2] + 2 * c.padding() - side) / c.stride() + 1
              };
          weights[i] = p.get("W");
          dWeights[i] = p.get("dW");
          if (p.containsKey("b")) {
            biases[i] = p.get("b").reshape(c.filters());
            dBiases[i] = p.get("db").reshape(c.filters());
          }
          Conv2DConfig conv = FastConvNet.convConfig(c, true);
          INDArray probe = image(1, s);
          convArgs[i] =
              new Conv2D(new INDArray[] {probe, weights[i]}, new INDArray[] {probe}, conv).iArgs();
          if (from[i][0] == INPUT && Im2colConv.suits(s[0], side)) {
            stem = Im2colConv.of(s, c, shape[i], maxBatch, false);
          }
        }
        case BATCH_NORM -> {
          op[i] = Op.BATCH_NORM;
          shape[i] = s;
          var bn = (org.deeplearning4j.nn.conf.layers.BatchNormalization) layer.conf().getLayer();
          logStd[i] = bn.isUseLogStd();
          decay[i] = bn.getDecay();
          int ch = s[0];
          INDArray[] v = BatchNormKernel.views(p, ch, logStd[i]);
          weights[i] = v[0];
          biases[i] = v[1];
          dWeights[i] = v[2];
          dBiases[i] = v[3];
          running[i] = java.util.Arrays.copyOfRange(v, 4, 8); // mean, var, their updates
          norm[i] =
              new BatchNormKernel(ch, s[1] * s[2], maxBatch, true, bn.getEps(), folded[i + 1]);
        }
        case ACTIVATION -> {
          op[i] = Op.RELU;
          shape[i] = s;
        }
        case ADD -> {
          op[i] = Op.ADD;
          shape[i] = s;
        }
        case SHORTCUT -> {
          op[i] = Op.SHORTCUT;
          stride[i] = c.stride();
          shape[i] =
              new int[] {c.filters(), (s[1] - 1) / c.stride() + 1, (s[2] - 1) / c.stride() + 1};
        }
        case GLOBAL_AVG_POOL -> {
          op[i] = Op.GLOBAL_AVG_POOL;
          shape[i] = new int[] {s[0], 1, 1};
        }
        case OUTPUT -> {
          op[i] = Op.OUTPUT;
          shape[i] = new int[] {c.units(), 1, 1};
          out =
              new DenseStack(
                  params, grads, offsets.get(node.name()), List.of(c), i, s[0], maxBatch, true);
        }
        default -> throw new IllegalStateException("not covered: " + c.type());
      }
      if (folded[i]) {
        act[i] = act[i - 1]; // the batch norm's (or add's) output is this relu's
        grad[i] = grad[i - 1];
      } else if (op[i] != Op.OUTPUT && op[i] != Op.GLOBAL_AVG_POOL) {
        act[i] = image(maxBatch, shape[i]);
        grad[i] = image(maxBatch, shape[i]);
        largest = Math.max(largest, shape[i][0] * shape[i][1] * shape[i][2]);
      }
    }
    // backward order: the first consumer of a vertex writes its gradient, later ones add
    boolean[] written = new boolean[nodes];
    for (int i = nodes - 1; i >= 0; i--) {
      firstGrad[i] = new boolean[from[i].length];
      for (int k = 0; k < from[i].length; k++) {
        int f = from[i][k];
        if (f != INPUT) {
          firstGrad[i][k] = !written[f];
          written[f] = true;
          if (!firstGrad[i][k] && op[i] != Op.ADD) {
            spare[i] = image(maxBatch, shape[f]);
          }
        }
      }
    }
    firstConv = stem;
    dense = out;
    input = stem == null ? image(maxBatch, inShape) : null;
    inputGrad = stem == null ? image(maxBatch, inShape) : null;
    pooledChannels = shape[from[nodes - 1][0]][0];
    pooled = new float[maxBatch * pooledChannels];
    pooledGrad = new float[maxBatch * pooledChannels];
    heapIn = new float[maxBatch * largest];
    heapOut = new float[maxBatch * largest];
    long covered = 0;
    for (int i = 0; i < nodes; i++) {
      GraphLayout.Node node = list.get(i);
      if (!node.layer().type().graphOnly()) {
        covered += net.getLayer(node.name()).numParams();
      }
    }
    if (covered != net.numParams()) {
      throw new IllegalStateException(
          "the graph's layers cover "
              + covered
              + " parameters, the network has "
              + net.numParams());
    }
  }

  /**
   * A fast path over {@code net}'s own parameter and gradient vectors ({@code net} built by {@code
   * GraphFactory} from {@code model}), for batches of up to {@code maxBatch} examples.
   */
  public static FastResidualNet of(
      ComputationGraph net, ModelConfig model, int numInputs, int maxBatch) {
    return new FastResidualNet(net, model, numInputs, maxBatch);
  }

  /** Where each layer's parameters start in the graph's flat vector: DL4J's topological order. */
  private static Map<String, Long> offsets(ComputationGraph net) {
    Map<String, Long> out = new HashMap<>();
    long at = 0;
    GraphVertex[] vertices = net.getVertices();
    for (int v : net.topologicalSortOrder()) {
      if (vertices[v].hasLayer()) {
        out.put(vertices[v].getVertexName(), at);
        at += vertices[v].getLayer().numParams();
      }
    }
    return out;
  }

  /**
   * Why the fast kernels do not compute the graph {@code model} (in float32, which {@link
   * FastPath#unsupported} checks) on {@code numInputs} features, naming the first vertex they do
   * not cover, or null when they cover every vertex.
   */
  static String unsupported(ModelConfig model, int numInputs) {
    if (model.inputFor(numInputs).type() != InputKind.IMAGE) {
      return "model.input is "
          + model.inputFor(numInputs).type().configName()
          + " (graph models on the fast kernels read images)";
    }
    List<GraphLayout.Node> list = model.graph().nodes();
    Map<String, Integer> consumers = new HashMap<>();
    Map<String, LayerType> types = new HashMap<>();
    types.put(GraphLayout.INPUT, null);
    for (GraphLayout.Node n : list) {
      for (String s : n.inputs()) {
        consumers.merge(s, 1, Integer::sum);
      }
    }
    for (int i = 0; i < list.size(); i++) {
      GraphLayout.Node n = list.get(i);
      LayerConfig c = n.layer();
      String at = at(n);
      boolean last = i == list.size() - 1;
      LayerType source = types.get(n.inputs().get(0));
      boolean flatIn = source == LayerType.GLOBAL_AVG_POOL;
      if (c.dropout() != 0) {
        return at + "has dropout (the fast graph kernels have none)";
      }
      switch (c.type()) {
        case CONV2D -> {
          if (c.activation() != Activation.IDENTITY) {
            return at
                + "has activation "
                + c.activation().configName()
                + " (identity; a relu is its own activation layer)";
          }
        }
        case ACTIVATION -> {
          if (c.activation() != Activation.RELU) {
            return at + "is " + c.activation().configName() + " (relu)";
          }
        }
        case BATCH_NORM, ADD, SHORTCUT, GLOBAL_AVG_POOL -> {}
        case OUTPUT -> {
          if (!last || !flatIn) {
            return at + "is not the last layer reading a global_avg_pool";
          }
          if (c.activation() != Activation.SOFTMAX || c.loss() != Loss.CROSS_ENTROPY) {
            return at
                + "is "
                + c.activation().configName()
                + " with loss "
                + c.loss().configName()
                + " (softmax with cross_entropy)";
          }
        }
        default -> {
          return at + "is not one of conv2d, batch_norm, relu, add, shortcut, global_avg_pool";
        }
      }
      if (c.type() != LayerType.OUTPUT && (flatIn || last)) {
        return at
            + (last ? "is the last layer (an output layer)" : "reads flat features (an image)");
      }
      for (String s : n.inputs()) {
        if (s.equals(GraphLayout.INPUT) && c.type() != LayerType.CONV2D) {
          return at + "reads the input (only a conv2d may)";
        }
      }
      if (!last && !consumers.containsKey(n.name())) {
        return at + "feeds no layer";
      }
      types.put(n.name(), c.type());
    }
    if (consumers.getOrDefault(GraphLayout.INPUT, 0) != 1) {
      return "model.layers: the fast graph kernels take one conv2d reading the input, found "
          + consumers.getOrDefault(GraphLayout.INPUT, 0)
          + " layers reading it";
    }
    return null;
  }

  private static String at(GraphLayout.Node n) {
    return "model.layers["
        + n.index()
        + "] ("
        + n.layer().type().configName()
        + " '"
        + n.name()
        + "'): the fast kernels do not cover this layer, it ";
  }

  /** An NHWC activation array for {@code batch} images of {C, H, W}. */
  private static INDArray image(int batch, int[] chw) {
    return Nd4j.create(DataType.FLOAT, batch, chw[1], chw[2], chw[0]);
  }

  private INDArray in(int i, int k, int rows) {
    return FastConvNet.rows(from[i][k] == INPUT ? input : act[from[i][k]], rows);
  }

  /** Where vertex i writes the gradient for its k-th input. */
  private INDArray sink(int i, int k, int rows) {
    int f = from[i][k];
    if (f == INPUT) {
      return FastConvNet.rows(inputGrad, rows);
    }
    return FastConvNet.rows(firstGrad[i][k] ? grad[f] : spare[i], rows);
  }

  /** Adds what {@link #sink} held to the input's gradient when i is not its first consumer. */
  private void flush(int i, int k, int rows) {
    int f = from[i][k];
    if (f != INPUT && !firstGrad[i][k]) {
      FastConvNet.rows(grad[f], rows).addi(FastConvNet.rows(spare[i], rows));
    }
  }

  @Override
  public double computeGradient(float[] features, int[] labels, int rows, StepKey key) {
    if (rows < 1 || rows > maxBatch) {
      throw new IllegalArgumentException(
          "batch of " + rows + " examples; this fast path holds 1 to " + maxBatch);
    }
    long t = times == null ? 0 : System.nanoTime();
    if (firstConv == null) {
      FastConvNet.loadImages(features, rows, inShape, true, input, heapIn);
    }
    double loss = 0;
    for (int i = 0; i < nodes; i++) {
      INDArray out = act[i] == null ? null : FastConvNet.rows(act[i], rows);
      switch (op[i]) {
        case CONV -> {
          if (from[i][0] == INPUT && firstConv != null) {
            firstConv.forward(features, rows, weights[i], biases[i], out);
          } else {
            FastConvNet.exec(
                "conv2d", convInputs(i, rows, null), new INDArray[] {out}, convArgs[i], null);
          }
        }
        case BATCH_NORM -> {
          norm[i].forward(in(i, 0, rows), out, rows, weights[i], biases[i], false);
          INDArray[] r = running[i];
          norm[i].runningUpdates(r[0], r[1], r[2], r[3], decay[i], logStd[i]);
        }
        case RELU -> {
          if (!folded[i]) {
            reluKernel.forward(in(i, 0, rows), out, (int) out.length());
          }
        }
        case ADD -> {
          if (i + 1 < nodes && folded[i + 1]) {
            reluKernel.addForward(in(i, 0, rows), in(i, 1, rows), out, (int) out.length());
            break;
          }
          FastConvNet.exec(
              "add",
              new INDArray[] {in(i, 0, rows), in(i, 1, rows)},
              new INDArray[] {out},
              null,
              null);
          for (int k = 2; k < from[i].length; k++) {
            out.addi(in(i, k, rows));
          }
        }
        case SHORTCUT -> shortcutForward(i, rows, out);
        case GLOBAL_AVG_POOL -> poolForward(i, rows);
        case OUTPUT -> loss = dense.forwardBackward(pooled, labels, rows, key, pooledGrad);
      }
      t = tick(t, 2 * i);
    }
    for (int i = nodes - 1; i >= 0; i--) {
      INDArray gOut = grad[i] == null ? null : FastConvNet.rows(grad[i], rows);
      switch (op[i]) {
        case CONV -> {
          if (from[i][0] == INPUT && firstConv != null) {
            firstConv.backward(gOut, dWeights[i], dBiases[i]); // no gradient for the input
          } else {
            INDArray[] outs =
                biases[i] == null
                    ? new INDArray[] {sink(i, 0, rows), dWeights[i]}
                    : new INDArray[] {sink(i, 0, rows), dWeights[i], dBiases[i]};
            FastConvNet.exec("conv2d_bp", convInputs(i, rows, gOut), outs, convArgs[i], null);
            flush(i, 0, rows);
          }
        }
        case BATCH_NORM -> {
          norm[i].backward(gOut, sink(i, 0, rows), dWeights[i], dBiases[i], false);
          flush(i, 0, rows);
        }
        case RELU -> {
          if (folded[i]) {
            break; // the batch norm or add before applies the relu's backward
          }
          reluKernel.backward(in(i, 0, rows), gOut, sink(i, 0, rows), (int) gOut.length());
          flush(i, 0, rows);
        }
        case ADD -> {
          if (i + 1 < nodes && folded[i + 1]) {
            // the relu after: its mask (from this add's output, the relu's) on the way to both
            reluKernel.addBackward(
                FastConvNet.rows(act[i], rows),
                gOut,
                FastConvNet.rows(grad[from[i][0]], rows),
                !firstGrad[i][0],
                FastConvNet.rows(grad[from[i][1]], rows),
                !firstGrad[i][1],
                (int) gOut.length());
            break;
          }
          for (int k = 0; k < from[i].length; k++) {
            INDArray g = FastConvNet.rows(grad[from[i][k]], rows);
            if (firstGrad[i][k]) {
              g.assign(gOut);
            } else {
              g.addi(gOut);
            }
          }
        }
        case SHORTCUT -> {
          shortcutBackward(i, rows, gOut);
          flush(i, 0, rows);
        }
        case GLOBAL_AVG_POOL -> {
          poolBackward(i, rows);
          flush(i, 0, rows);
        }
        case OUTPUT -> {} // computed with the forward pass
      }
      t = tick(t, 2 * i + 1);
    }
    return loss;
  }

  private INDArray[] convInputs(int i, int rows, INDArray gOut) {
    INDArray x = in(i, 0, rows);
    if (biases[i] == null) {
      return gOut == null ? new INDArray[] {x, weights[i]} : new INDArray[] {x, weights[i], gOut};
    }
    return gOut == null
        ? new INDArray[] {x, weights[i], biases[i]}
        : new INDArray[] {x, weights[i], biases[i], gOut};
  }

  /** Option A: every stride-th pixel of the input, its channels, then zero channels. */
  private void shortcutForward(int i, int rows, INDArray out) {
    int[] s = shape[from[i][0]];
    int[] o = shape[i];
    int st = stride[i];
    DenseStack.get(in(i, 0, rows), heapIn, rows * s[0] * s[1] * s[2]);
    int n = rows * o[0] * o[1] * o[2];
    java.util.Arrays.fill(heapOut, 0, n, 0f);
    for (int r = 0; r < rows; r++) {
      for (int y = 0; y < o[1]; y++) {
        for (int x = 0; x < o[2]; x++) {
          int src = ((r * s[1] + y * st) * s[2] + x * st) * s[0];
          int dst = ((r * o[1] + y) * o[2] + x) * o[0];
          System.arraycopy(heapIn, src, heapOut, dst, s[0]);
        }
      }
    }
    DenseStack.put(out, heapOut, n);
  }

  /** The gradient of option A: at the kept pixels the first channels' gradient, elsewhere 0. */
  private void shortcutBackward(int i, int rows, INDArray gOut) {
    int[] s = shape[from[i][0]];
    int[] o = shape[i];
    int st = stride[i];
    DenseStack.get(gOut, heapOut, rows * o[0] * o[1] * o[2]);
    int n = rows * s[0] * s[1] * s[2];
    java.util.Arrays.fill(heapIn, 0, n, 0f);
    for (int r = 0; r < rows; r++) {
      for (int y = 0; y < o[1]; y++) {
        for (int x = 0; x < o[2]; x++) {
          int dst = ((r * s[1] + y * st) * s[2] + x * st) * s[0];
          int src = ((r * o[1] + y) * o[2] + x) * o[0];
          System.arraycopy(heapOut, src, heapIn, dst, s[0]);
        }
      }
    }
    DenseStack.put(sink(i, 0, rows), heapIn, n);
  }

  /** The mean over each example's pixels per channel, into {@code pooled}. */
  private void poolForward(int i, int rows) {
    int[] s = shape[from[i][0]];
    int ch = s[0];
    int pixels = s[1] * s[2];
    DenseStack.get(in(i, 0, rows), heapIn, rows * ch * pixels);
    double[] sum = new double[ch];
    for (int r = 0; r < rows; r++) {
      java.util.Arrays.fill(sum, 0);
      for (int p = 0; p < pixels; p++) {
        int at = (r * pixels + p) * ch;
        for (int c = 0; c < ch; c++) {
          sum[c] += heapIn[at + c];
        }
      }
      for (int c = 0; c < ch; c++) {
        pooled[r * ch + c] = (float) (sum[c] / pixels);
      }
    }
  }

  /** The pooled features' gradient spread evenly over each example's pixels. */
  private void poolBackward(int i, int rows) {
    int[] s = shape[from[i][0]];
    int ch = s[0];
    int pixels = s[1] * s[2];
    float scale = 1f / pixels;
    for (int r = 0; r < rows; r++) {
      for (int p = 0; p < pixels; p++) {
        int at = (r * pixels + p) * ch;
        for (int c = 0; c < ch; c++) {
          heapIn[at + c] = pooledGrad[r * ch + c] * scale;
        }
      }
    }
    DenseStack.put(sink(i, 0, rows), heapIn, rows * ch * pixels);
  }

  @Override
  public long correct() {
    return dense.correct();
  }

  /**
   * Adds each vertex's forward time to {@code nanos[2 i]} and its backward time to {@code nanos[2 i
   * + 1]}, i the vertex's index in the config's graph (the output layer's backward counts to its
   * forward); null stops it.
   */
  @Override
  public void recordTimes(long[] nanos) {
    this.times = nanos;
  }

  private long tick(long since, int counter) {
    return FastConvNet.lap(times, since, counter);
  }
}
