package io.spindle.worker;

import io.spindle.data.MiniBatch;
import io.spindle.model.GraphFactory;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import java.util.Arrays;
import java.util.Map;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.layers.OutputLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * A {@link TrainableNetwork} holding a DL4J {@link ComputationGraph} built by {@link GraphFactory}
 * (residual networks, merges): the graph reads the same flat {@code size x features} batch as a
 * stack, and its flat parameter and gradient vectors are laid out in DL4J's topological order of
 * the graph, which the model config fixes. So everything past this seam (sync modes, the ZeRO-1
 * shard, the global step, checkpoints) runs a graph as it runs a stack. What it shares with the
 * stack's replica is in {@link Dl4jReplica}.
 */
public final class GraphReplica extends Dl4jReplica {
  private final ComputationGraph net;

  /** The name of the output layer's vertex when a slice is scored in one pass, else null. */
  private final String onePassOutput;

  GraphReplica(ModelSpec spec) {
    this(spec, build(spec));
  }

  private GraphReplica(ModelSpec spec, ComputationGraph net) {
    super(spec, net, counter(net), ParameterRules.of(net, spec.model()));
    this.net = net;
    this.onePassOutput = onePassOutput(net);
  }

  private static String onePassOutput(ComputationGraph net) {
    var conf = net.getConfiguration();
    if (conf.getNetworkInputs().size() != 1 || conf.getNetworkOutputs().size() != 1) {
      return null;
    }
    String name = conf.getNetworkOutputs().get(0);
    GraphVertex v = net.getVertex(name);
    boolean plain =
        v instanceof LayerVertex
            && v.getLayer().getClass() == OutputLayer.class
            && oneDataFormat(Arrays.stream(net.getLayers()).map(l -> l.conf().getLayer()));
    return plain ? name : null;
  }

  private static ComputationGraph build(ModelSpec spec) {
    if (spec.reconstruction() != null) {
      throw new IllegalArgumentException(
          "layer-wise pre-training (an autoencoder) applies to stacks of dense layers, not to a"
              + " graph model");
    }
    ComputationGraph net = GraphFactory.create(spec.model(), spec.numInputs(), spec.seed());
    KeyedDropout.install(net.getLayers());
    return net;
  }

  /** Counts training accuracy on the input of the graph's output layer. */
  private static AccuracyCounter counter(ComputationGraph net) {
    String output = net.getConfiguration().getNetworkOutputs().get(0);
    return new AccuracyCounter(net.getConfiguration().getVertexInputs().get(output).get(0));
  }

  /** The DL4J graph (for saving it). */
  public ComputationGraph network() {
    return net;
  }

  @Override
  public double computeGradient(MiniBatch batch, StepKey key) {
    KeyedDropout.key(net.getLayers(), key);
    return classifierGradient(batch);
  }

  @Override
  public INDArray gradient() {
    return net.getFlattenedGradients();
  }

  @Override
  public Evaluation evaluate(MiniBatch batch) {
    return evaluateClassifier(batch);
  }

  @Override
  void forwardBackward(INDArray features, INDArray labels) {
    net.setInputs(features);
    net.setLabels(labels);
    net.computeGradientAndScore();
  }

  @Override
  INDArray output(INDArray features) {
    return net.outputSingle(false, features);
  }

  @Override
  double score(DataSet data) {
    return net.score(data, false);
  }

  /**
   * One forward pass for both, where the graph has one input and one output, its output layer is
   * DL4J's plain dense {@link OutputLayer} and the layers share their data formats. DL4J's {@code
   * score(data, false)} runs {@code ffToLayerActivationsDetached} over every vertex but the output
   * layer, keeping the layers' inputs, then the output vertex's {@code computeScore} with {@code
   * calcRegularizationScore(true)}; here the public {@code feedForward(inputs, false, false)} runs
   * that same pass with the output layer included (inference mode leaves its input as it is): its
   * activation is what {@code outputSingle} returns, and the output vertex then scores its input as
   * in {@code score}. Every activation is allocated outside DL4J's workspaces (as in {@code
   * score}); those the returned output shares no memory with are freed once the slice is scored,
   * rather than left to the garbage collector.
   */
  @Override
  Scored outputAndScore(INDArray features, INDArray labels) {
    if (onePassOutput == null) {
      return super.outputAndScore(features, labels);
    }
    Map<String, INDArray> activations = net.feedForward(new INDArray[] {features}, false, false);
    INDArray output = activations.get(onePassOutput);
    LayerVertex vertex = (LayerVertex) net.getVertex(onePassOutput);
    ((IOutputLayer) vertex.getLayer()).setLabels(labels);
    double meanLoss =
        vertex.computeScore(
            net.calcRegularizationScore(true), false, LayerWorkspaceMgr.noWorkspaces());
    net.clearLayersStates();
    release(activations.values(), features, output);
    return new Scored(output, meanLoss);
  }

  @Override
  boolean scoresInOnePass() {
    return onePassOutput != null;
  }
}
