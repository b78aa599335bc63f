package io.spindle.worker;

import io.spindle.compress.GradientLayout;
import io.spindle.data.MiniBatch;
import io.spindle.model.GraphFactory;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A {@link TrainableNetwork} holding a DL4J {@link ComputationGraph} built by {@link GraphFactory}
 * (residual networks, merges): the graph reads the same flat {@code size x features} batch as a
 * stack, and its flat parameter and gradient vectors are laid out in DL4J's topological order of
 * the graph, which the model config fixes. So everything past this seam (sync modes, the ZeRO-1
 * shard, the global step, checkpoints) runs a graph as it runs a stack.
 */
public final class GraphReplica implements TrainableNetwork {
  private final ModelSpec spec;
  private final ComputationGraph net;
  private final ParameterRules rules;
  private final AccuracyCounter counter;
  private GradientLayout layout;

  GraphReplica(ModelSpec spec) {
    if (spec.reconstruction() != null) {
      throw new IllegalArgumentException(
          "layer-wise pre-training (an autoencoder) applies to stacks of dense layers, not to a"
              + " graph model");
    }
    this.spec = spec;
    this.net = GraphFactory.create(spec.model(), spec.numInputs(), spec.seed());
    KeyedDropout.install(net.getLayers());
    String output = net.getConfiguration().getNetworkOutputs().get(0);
    this.counter = new AccuracyCounter(net.getConfiguration().getVertexInputs().get(output).get(0));
    this.net.addListeners(counter);
    this.rules = ParameterRules.of(net, spec.model());
  }

  /** The DL4J graph (for saving it). */
  public ComputationGraph network() {
    return net;
  }

  @Override
  public INDArray params() {
    return net.params();
  }

  @Override
  public ParameterRules rules() {
    return rules;
  }

  @Override
  public GradientLayout gradientLayout() {
    if (layout == null) {
      layout = GradientLayout.of(net);
    }
    return layout;
  }

  @Override
  public double computeGradient(MiniBatch batch, StepKey key) {
    DataType type = spec.dataType();
    KeyedDropout.key(net.getLayers(), key);
    counter.expect(batch.labels());
    net.setInputs(batch.featureArray(type));
    net.setLabels(batch.oneHotLabels(type, spec.numClasses()));
    net.computeGradientAndScore();
    // batch-norm statistics carry a per-batch update, not a sum over examples: make it one
    rules.rawUpdates().scaleToSum(net.getFlattenedGradients(), batch.size());
    return net.score();
  }

  @Override
  public INDArray gradient() {
    return net.getFlattenedGradients();
  }

  @Override
  public long correctOfLastForward() {
    return counter.correct();
  }

  @Override
  public Evaluation evaluate(MiniBatch batch) {
    if (batch.isEmpty()) {
      return Evaluation.empty();
    }
    DataType type = spec.dataType();
    INDArray x = batch.featureArray(type);
    INDArray y = batch.oneHotLabels(type, spec.numClasses());
    Evaluation total = Evaluation.empty();
    // slices, as MultiLayerReplica: a residual network's activations for a 1000-example test batch
    // would take gigabytes
    for (int from = 0; from < batch.size(); from += MultiLayerReplica.EVAL_SLICE) {
      int to = Math.min(batch.size(), from + MultiLayerReplica.EVAL_SLICE);
      INDArray xs = x.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      INDArray ys = y.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      INDArray out = net.outputSingle(false, xs);
      long correct = MultiLayerReplica.countCorrect(out, batch, from);
      long top5 = Evaluation.correctInTopK(out, batch.labels(), from, 5);
      double meanLoss = net.score(new DataSet(xs, ys), false);
      total = total.merge(new Evaluation(correct, top5, meanLoss * (to - from), to - from));
    }
    return total;
  }
}
