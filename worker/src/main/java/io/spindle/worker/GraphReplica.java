package io.spindle.worker;

import io.spindle.data.MiniBatch;
import io.spindle.model.GraphFactory;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import org.deeplearning4j.nn.graph.ComputationGraph;
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

  GraphReplica(ModelSpec spec) {
    this(spec, build(spec));
  }

  private GraphReplica(ModelSpec spec, ComputationGraph net) {
    super(spec, net, counter(net), ParameterRules.of(net, spec.model()));
    this.net = net;
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
}
