package io.spindle.model;

import io.spindle.config.ConfigException;
import io.spindle.config.GraphLayout;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.ModelConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.nd4j.linalg.learning.config.NoOp;

/**
 * Builds a DL4J {@link ComputationGraph} from a graph {@link ModelConfig} (layers with named {@code
 * inputs}, {@code add}, {@code concat}, {@code shortcut}; see {@link GraphLayout}), with the same
 * rules as {@link ModelFactory} builds a stack: NoOp updater (Spindle's optimiser works on the flat
 * vector), {@code model.weightInit} for weights, zero biases, L1/L2 on weights but not on biases or
 * batch-norm parameters, the model's precision, and the same layer speed-ups on the live network.
 *
 * <p>Each layer becomes a DL4J layer vertex of the same name; {@code add} an {@link
 * ElementWiseVertex} (sum), {@code concat} a {@link MergeVertex} (along channels or features). A
 * {@code shortcut} (He et al.'s option A) is stock DL4J too, so a saved model loads in plain DL4J:
 * a 1x1 max pooling with the shortcut's stride ({@code <name>/sub}, which keeps every stride-th
 * pixel), and, when the filters are k times the input's channels, a merge of it with k - 1 copies
 * scaled by 0 ({@code <name>/zero<j>}), which are the zero channels.
 *
 * <p>Shapes are followed layer by layer with DL4J's own rules before DL4J builds the graph, so an
 * {@code add} of different shapes, or a shortcut whose filters are no multiple of its input's
 * channels, is refused with a message naming the layer.
 */
public final class GraphFactory {
  private GraphFactory() {}

  /** The DL4J configuration for {@code numInputs} input features; deterministic given the seed. */
  public static ComputationGraphConfiguration configuration(
      ModelConfig model, int numInputs, long seed) {
    if (numInputs <= 0) {
      throw new ConfigException("numInputs must be > 0, got " + numInputs);
    }
    if (!model.isGraph()) {
      throw new ConfigException(
          "model.layers: a plain stack builds a MultiLayerNetwork (ModelFactory), not a graph");
    }
    InputConfig input = model.inputFor(numInputs);
    GraphLayout layout = model.graph();
    ComputationGraphConfiguration.GraphBuilder g =
        new NeuralNetConfiguration.Builder()
            .seed(seed)
            .dataType(ModelFactory.dataType(model.precision()))
            .updater(new NoOp())
            .weightInit(ModelFactory.weightInit(model.weightInit()))
            .biasInit(0.0)
            .l1(model.l1())
            .l2(model.l2())
            .l1Bias(0.0)
            .l2Bias(0.0)
            .graphBuilder()
            .addInputs(GraphLayout.INPUT);
    InputType inputType =
        switch (input.type()) {
          case FLAT, SEQUENCE -> InputType.feedForward(numInputs);
          case IMAGE ->
              InputType.convolutionalFlat(input.height(), input.width(), input.channels());
        };
    g.setInputTypes(inputType);
    Map<String, InputType> types = new HashMap<>();
    types.put(
        GraphLayout.INPUT,
        input.type() == io.spindle.config.InputKind.IMAGE
            ? InputType.convolutional(input.height(), input.width(), input.channels())
            : input.type() == io.spindle.config.InputKind.SEQUENCE
                ? InputType.recurrent(input.features(), input.steps())
                : inputType);
    for (GraphLayout.Node n : layout.nodes()) {
      String[] in = n.inputs().toArray(new String[0]);
      List<InputType> inTypes = new ArrayList<>();
      for (String s : in) {
        inTypes.add(types.get(s));
      }
      String at = "model.layers[" + n.index() + "] (" + n.layer().type().configName() + " '";
      at += n.name() + "'): ";
      InputType out;
      switch (n.layer().type()) {
        case ADD -> {
          for (int k = 1; k < inTypes.size(); k++) {
            if (!sameShape(inTypes.get(0), inTypes.get(k))) {
              throw new ConfigException(
                  at
                      + "add needs inputs of one shape, but '"
                      + in[0]
                      + "' is "
                      + describe(inTypes.get(0))
                      + " and '"
                      + in[k]
                      + "' is "
                      + describe(inTypes.get(k)));
            }
          }
          out = vertex(g, n.name(), new ElementWiseVertex(ElementWiseVertex.Op.Add), inTypes, in);
        }
        case CONCAT -> out = vertex(g, n.name(), new MergeVertex(), inTypes, in);
        case SHORTCUT -> out = shortcut(g, n, inTypes.get(0), at);
        default -> {
          Layer layer = ModelFactory.layer(n.layer(), input);
          layer.setLayerName(n.name());
          InputType t = inTypes.get(0);
          InputPreProcessor pre = null;
          if (input.type() == io.spindle.config.InputKind.SEQUENCE
              && in[0].equals(GraphLayout.INPUT)) {
            pre = new SequenceReshapePreProcessor(input.steps(), input.features());
          } else {
            pre = layer.getPreProcessorForInputType(t);
          }
          InputType seen = pre == null ? t : pre.getOutputType(t);
          try {
            out = shapeProbe(layer).getOutputType(n.index(), seen);
          } catch (RuntimeException e) {
            throw new ConfigException(at + "cannot read " + describe(t) + ": " + e.getMessage(), e);
          }
          if (pre instanceof SequenceReshapePreProcessor) {
            g.addLayer(n.name(), layer, pre, in);
          } else {
            g.addLayer(n.name(), layer, in);
          }
        }
      }
      types.put(n.name(), out);
    }
    String output = layout.nodes().get(layout.nodes().size() - 1).name();
    g.setOutputs(output);
    ComputationGraphConfiguration conf;
    try {
      conf = g.build();
    } catch (RuntimeException e) {
      throw new ConfigException("model.layers: DL4J cannot build the graph: " + e.getMessage(), e);
    }
    for (GraphVertex v : conf.getVertices().values()) {
      // batch normalisation's scale and shift are not weights: no L1/L2 on them
      if (v instanceof LayerVertex lv
          && lv.getLayerConf().getLayer() instanceof BatchNormalization bn) {
        bn.setRegularization(new ArrayList<>());
        bn.setRegularizationBias(new ArrayList<>());
      }
    }
    return conf;
  }

  /**
   * A new, initialised graph with Spindle's layer speed-ups on the live layers (as {@link
   * ModelFactory#create}: activation-reusing dense layers, true self-attention gradients, oneDNN
   * convolution, pooling and batch norm, label smoothing); configuration and parameters are DL4J's
   * own.
   */
  public static ComputationGraph create(ModelConfig model, int numInputs, long seed) {
    ComputationGraph net = createStock(model, numInputs, seed);
    ActivationReusingDenseLayer.install(net);
    HalvedErrorSameDiffLayer.install(net);
    OneDnnKernels.install(net);
    LabelSmoothing.install(net.getOutputLayer(0), model.outputLayer());
    return net;
  }

  /**
   * A new, initialised graph exactly as DL4J builds it, except that batch-norm layers with {@code
   * zeroGamma} start with their scale at 0.
   */
  public static ComputationGraph createStock(ModelConfig model, int numInputs, long seed) {
    ComputationGraph net = new ComputationGraph(configuration(model, numInputs, seed));
    net.init();
    for (GraphLayout.Node n : model.graph().nodes()) {
      if (n.layer().zeroGamma()) {
        net.getLayer(n.name()).getParam(BatchNormalizationParamInitializer.GAMMA).assign(0);
      }
    }
    return net;
  }

  /** Option A: every stride-th pixel ({@code <name>/sub}), channels zero-padded to filters. */
  private static InputType shortcut(
      ComputationGraphConfiguration.GraphBuilder g, GraphLayout.Node n, InputType in, String at) {
    LayerConfig l = n.layer();
    if (!(in instanceof InputType.InputTypeConvolutional c)) {
      throw new ConfigException(at + "needs an image input, got " + describe(in));
    }
    long channels = c.getChannels();
    if (l.filters() % channels != 0) {
      throw new ConfigException(
          at
              + "filters "
              + l.filters()
              + " must be a multiple of the input's "
              + channels
              + " channels (the extra channels are zeros)");
    }
    int copies = (int) (l.filters() / channels);
    if (copies == 1 && l.stride() == 1) {
      throw new ConfigException(
          at
              + "with stride 1 and the input's channels this is the identity; read '"
              + n.inputs().get(0)
              + "' directly");
    }
    String source = n.inputs().get(0);
    InputType type = in;
    if (l.stride() > 1) {
      String sub = copies == 1 ? n.name() : n.name() + "/sub";
      SubsamplingLayer pool =
          new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
              .kernelSize(1, 1)
              .stride(l.stride(), l.stride())
              .name(sub)
              .build();
      type = shapeProbe(pool).getOutputType(n.index(), in);
      g.addLayer(sub, pool, source);
      source = sub;
    }
    if (copies == 1) {
      return type;
    }
    String[] parts = new String[copies];
    parts[0] = source;
    for (int j = 1; j < copies; j++) {
      parts[j] = n.name() + "/zero" + j;
      g.addVertex(parts[j], new ScaleVertex(0.0), source);
    }
    g.addVertex(n.name(), new MergeVertex(), parts);
    return InputType.convolutional(
        ((InputType.InputTypeConvolutional) type).getHeight(),
        ((InputType.InputTypeConvolutional) type).getWidth(),
        l.filters());
  }

  /**
   * A copy of {@code layer} that can answer {@code getOutputType} before the graph builder has
   * given it the global settings: DL4J's default convolution mode (Truncate) set explicitly.
   */
  private static Layer shapeProbe(Layer layer) {
    Layer probe = layer.clone();
    if (probe instanceof org.deeplearning4j.nn.conf.layers.ConvolutionLayer c
        && c.getConvolutionMode() == null) {
      c.setConvolutionMode(org.deeplearning4j.nn.conf.ConvolutionMode.Truncate);
    }
    if (probe instanceof SubsamplingLayer s && s.getConvolutionMode() == null) {
      s.setConvolutionMode(org.deeplearning4j.nn.conf.ConvolutionMode.Truncate);
    }
    return probe;
  }

  private static InputType vertex(
      ComputationGraphConfiguration.GraphBuilder g,
      String name,
      GraphVertex v,
      List<InputType> inTypes,
      String[] in) {
    InputType out = v.getOutputType(-1, inTypes.toArray(new InputType[0]));
    g.addVertex(name, v, in);
    return out;
  }

  private static boolean sameShape(InputType a, InputType b) {
    return a.getType() == b.getType() && java.util.Arrays.equals(a.getShape(), b.getShape());
  }

  /** For messages: {@code image 16x32x32 (CxHxW)}, {@code flat 64}. */
  static String describe(InputType t) {
    if (t instanceof InputType.InputTypeConvolutional c) {
      return "image " + c.getChannels() + "x" + c.getHeight() + "x" + c.getWidth() + " (CxHxW)";
    }
    if (t instanceof InputType.InputTypeFeedForward f) {
      return "flat " + f.getSize();
    }
    if (t instanceof InputType.InputTypeRecurrent r) {
      return "sequence of " + r.getTimeSeriesLength() + " steps x " + r.getSize() + " features";
    }
    return String.valueOf(t);
  }
}
