package io.spindle.worker;

import io.spindle.data.MiniBatch;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * A {@link TrainableNetwork} holding a DL4J {@link MultiLayerNetwork} built by ModelFactory, a
 * classifier or (layer-wise pre-training) an autoencoder; what it shares with the graph's replica
 * is in {@link Dl4jReplica}.
 */
public final class MultiLayerReplica extends Dl4jReplica {
  private final MultiLayerNetwork net;

  MultiLayerReplica(ModelSpec spec) {
    this(spec, build(spec));
  }

  private MultiLayerReplica(ModelSpec spec, MultiLayerNetwork net) {
    super(spec, net, new AccuracyCounter(), ParameterRules.of(net, spec.model()));
    this.net = net;
  }

  private static MultiLayerNetwork build(ModelSpec spec) {
    MultiLayerNetwork n = ModelFactory.create(spec.model(), spec.numInputs(), spec.seed());
    return spec.reconstruction() == null ? n : spec.reconstruction().configure(n);
  }

  /** The DL4J network (for saving it, and for copying pre-trained layers into it). */
  public MultiLayerNetwork network() {
    return net;
  }

  @Override
  public double computeGradient(MiniBatch batch, StepKey key) {
    KeyedDropout.key(net, key);
    if (spec.reconstruction() != null) {
      counter.expect(null); // an autoencoder has no classes to count
      return spec.reconstruction().computeGradient(net, batch, spec.dataType(), key);
    }
    return classifierGradient(batch);
  }

  @Override
  public INDArray gradient() {
    return net.getFlattenedGradients();
  }

  @Override
  public Evaluation evaluate(MiniBatch batch) {
    if (spec.reconstruction() != null && !batch.isEmpty()) {
      double meanLoss = spec.reconstruction().score(net, batch, spec.dataType());
      return new Evaluation(0, meanLoss * batch.size(), batch.size());
    }
    return evaluateClassifier(batch);
  }

  @Override
  void forwardBackward(INDArray features, INDArray labels) {
    net.setInput(features);
    net.setLabels(labels);
    net.computeGradientAndScore();
  }

  @Override
  INDArray output(INDArray features) {
    return net.output(features, false);
  }

  @Override
  double score(DataSet data) {
    return net.score(data, false);
  }
}
