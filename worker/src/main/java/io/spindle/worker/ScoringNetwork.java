package io.spindle.worker;

import io.spindle.model.OneDnnKernels;
import io.spindle.model.SequenceReshapePreProcessor;
import io.spindle.tensor.FlatVector;
import java.io.Serializable;
import java.util.UUID;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;

/**
 * A trained network as batch scoring ships it to the executors in one broadcast: DL4J's
 * configuration as JSON (the stock configuration {@code model.zip} holds) and the flat parameter
 * vector, plus what the scorer checks and reports: features per example, outputs per example,
 * whether the output is a softmax over classes, and where the model came from (named in errors).
 * Plain Java fields, no network: an executor builds its network from this once per JVM ({@link
 * BatchScorer}).
 */
public final class ScoringNetwork implements Serializable {
  private static final long serialVersionUID = 1L;
  private final String id;
  private final String configurationJson;
  private final FlatVector params;
  private final int numInputs;
  private final int numOutputs;
  private final boolean softmax;
  private final boolean denseOnly;
  private final String source;
  private final boolean graph;

  private ScoringNetwork(
      String configurationJson,
      FlatVector params,
      int numInputs,
      int numOutputs,
      boolean softmax,
      boolean denseOnly,
      String source,
      boolean graph) {
    this.id = UUID.randomUUID().toString();
    this.graph = graph;
    this.denseOnly = denseOnly;
    this.configurationJson = configurationJson;
    this.params = params;
    this.numInputs = numInputs;
    this.numOutputs = numOutputs;
    this.softmax = softmax;
    this.source = source;
  }

  /**
   * The scoring form of {@code net} (its configuration and a copy of its parameters).
   *
   * @param source where the network came from (a file or a model path), named in errors
   */
  public static ScoringNetwork of(MultiLayerNetwork net, String source) {
    MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
    Layer last = conf.getConf(conf.getConfs().size() - 1).getLayer();
    if (!(last instanceof BaseOutputLayer out)) {
      throw new IllegalArgumentException(
          source
              + ": expected a network whose last layer is an output layer, found "
              + last.getClass().getSimpleName());
    }
    return new ScoringNetwork(
        conf.toJson(),
        FlatVector.copyOf(net.params()),
        numInputs(conf, source),
        (int) out.getNOut(),
        out.getActivationFn() instanceof ActivationSoftmax,
        conf.getConfs().stream()
            .map(c -> c.getLayer())
            .allMatch(
                l ->
                    l instanceof org.deeplearning4j.nn.conf.layers.DenseLayer
                        || l instanceof org.deeplearning4j.nn.conf.layers.DropoutLayer
                        || l instanceof BaseOutputLayer),
        source,
        false);
  }

  /**
   * The scoring form of graph {@code net} ({@code ComputationGraph}: one input, one output layer);
   * its input is the flat {@code features} row ({@code convolutionalFlat} for images), as Spindle
   * builds graphs.
   */
  public static ScoringNetwork of(ComputationGraph net, String source) {
    ComputationGraphConfiguration conf = net.getConfiguration();
    if (conf.getNetworkInputs().size() != 1 || conf.getNetworkOutputs().size() != 1) {
      throw new IllegalArgumentException(
          source
              + ": expected a graph with one input and one output, found "
              + conf.getNetworkInputs()
              + " and "
              + conf.getNetworkOutputs());
    }
    String outName = conf.getNetworkOutputs().get(0);
    Layer last =
        conf.getVertices().get(outName) instanceof LayerVertex v
            ? v.getLayerConf().getLayer()
            : null;
    if (!(last instanceof BaseOutputLayer out)) {
      throw new IllegalArgumentException(
          source + ": expected a graph whose output '" + outName + "' is an output layer");
    }
    long features = graphInputs(conf, source);
    return new ScoringNetwork(
        conf.toJson(),
        FlatVector.copyOf(net.params()),
        (int) features,
        (int) out.getNOut(),
        out.getActivationFn() instanceof ActivationSoftmax,
        false,
        source,
        true);
  }

  /**
   * Features per example of a graph: the flat size its input's first layer reader takes (an image's
   * channels x height x width through its {@code FeedForwardToCnnPreProcessor}, else the layer's
   * input count).
   */
  static long graphInputs(ComputationGraphConfiguration conf, String source) {
    String input = conf.getNetworkInputs().get(0);
    for (var e : conf.getVertexInputs().entrySet()) {
      if (!e.getValue().contains(input)
          || !(conf.getVertices().get(e.getKey()) instanceof LayerVertex v)) {
        continue;
      }
      if (v.getPreProcessor() instanceof FeedForwardToCnnPreProcessor cnn) {
        return cnn.getNumChannels() * cnn.getInputHeight() * cnn.getInputWidth();
      }
      if (v.getLayerConf().getLayer() instanceof FeedForwardLayer ff && ff.getNIn() > 0) {
        return ff.getNIn();
      }
    }
    throw new IllegalArgumentException(
        source + ": cannot tell how many features the graph takes from its input's readers");
  }

  /** The scoring form of a stack or a graph. */
  public static ScoringNetwork of(Model net, String source) {
    if (net instanceof MultiLayerNetwork stack) {
      return of(stack, source);
    }
    if (net instanceof ComputationGraph g) {
      return of(g, source);
    }
    throw new IllegalArgumentException(
        source
            + ": expected a DL4J MultiLayerNetwork or ComputationGraph, found "
            + net.getClass().getName());
  }

  /** Whether this is a graph ({@code ComputationGraph}). */
  public boolean isGraph() {
    return graph;
  }

  /**
   * Examples per forward pass that suit this network: 4096 for dense-only networks (larger matrix
   * products run nearer the CPU's peak; activations stay a few MB per layer), 256 otherwise
   * (convolution and recurrent activations grow with the image or sequence).
   */
  public int suggestedBatch() {
    return denseOnly ? 4096 : 256;
  }

  /**
   * Features per example that the configuration takes: the flat size of its first layer's input (an
   * image's channels x height x width, a sequence's steps x features, else the first layer's input
   * count).
   */
  static int numInputs(MultiLayerConfiguration conf, String source) {
    InputPreProcessor pre = conf.getInputPreProcess(0);
    if (pre instanceof FeedForwardToCnnPreProcessor cnn) {
      return (int) (cnn.getNumChannels() * cnn.getInputHeight() * cnn.getInputWidth());
    }
    if (pre instanceof SequenceReshapePreProcessor seq) {
      return seq.getSteps() * seq.getFeatures();
    }
    Layer first = conf.getConf(0).getLayer();
    if (first instanceof EmbeddingSequenceLayer emb) {
      return emb.getInputLength();
    }
    if (first instanceof FeedForwardLayer ff && ff.getNIn() > 0) {
      return (int) ff.getNIn();
    }
    throw new IllegalArgumentException(
        source
            + ": cannot tell how many features the network takes (first layer "
            + first.getClass().getSimpleName()
            + ")");
  }

  /**
   * Builds this network, a stack or a graph (stock DL4J layers, oneDNN kernels where present), with
   * its parameters.
   */
  public Model buildModel() {
    if (!graph) {
      return build();
    }
    ComputationGraph net =
        new ComputationGraph(ComputationGraphConfiguration.fromJson(configurationJson));
    net.init(params.toINDArray().reshape(1, params.length()), false);
    OneDnnKernels.install(net);
    return net;
  }

  /** Builds this stack (stock DL4J layers, oneDNN kernels where present) with its parameters. */
  public MultiLayerNetwork build() {
    if (graph) {
      throw new IllegalStateException(source + ": a graph; build it with buildModel()");
    }
    MultiLayerNetwork net =
        new MultiLayerNetwork(MultiLayerConfiguration.fromJson(configurationJson));
    net.init(params.toINDArray().reshape(1, params.length()), false);
    OneDnnKernels.install(net);
    return net;
  }

  /** Identifies this instance (and its copies on the executors): the key of the network cache. */
  public String id() {
    return id;
  }

  public int numInputs() {
    return numInputs;
  }

  public int numOutputs() {
    return numOutputs;
  }

  /** Whether the output layer is a softmax, so each output row is a class distribution. */
  public boolean softmax() {
    return softmax;
  }

  public int numParams() {
    return params.length();
  }

  public String source() {
    return source;
  }

  /** DL4J's configuration as JSON. */
  public String configurationJson() {
    return configurationJson;
  }

  /** A copy of the parameters. */
  public FlatVector params() {
    return params.copy();
  }
}
