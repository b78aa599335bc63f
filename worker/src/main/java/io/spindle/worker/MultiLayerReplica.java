package io.spindle.worker;

import io.spindle.compress.GradientLayout;
import io.spindle.data.MiniBatch;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** A {@link TrainableNetwork} holding a DL4J {@link MultiLayerNetwork} built by ModelFactory. */
public final class MultiLayerReplica implements TrainableNetwork {
  /** Test examples per forward pass in {@link #evaluate}. */
  static final int EVAL_SLICE = 200;

  private final ModelSpec spec;
  private final MultiLayerNetwork net;
  private final ParameterRules rules;
  private GradientLayout layout;
  private final AccuracyCounter counter = new AccuracyCounter();

  MultiLayerReplica(ModelSpec spec) {
    this.spec = spec;
    MultiLayerNetwork n = ModelFactory.create(spec.model(), spec.numInputs(), spec.seed());
    this.net = spec.reconstruction() == null ? n : spec.reconstruction().configure(n);
    this.net.addListeners(counter);
    this.rules = ParameterRules.of(net, spec.model());
  }

  /** The DL4J network (for saving it, and for copying pre-trained layers into it). */
  public MultiLayerNetwork network() {
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
    KeyedDropout.key(net, key);
    if (spec.reconstruction() != null) {
      counter.expect(null); // an autoencoder has no classes to count
      return spec.reconstruction().computeGradient(net, batch, type, key);
    }
    counter.expect(batch.labels());
    net.setInput(batch.featureArray(type));
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
    DataType type = spec.dataType();
    if (batch.isEmpty()) {
      return Evaluation.empty();
    }
    if (spec.reconstruction() != null) {
      double meanLoss = spec.reconstruction().score(net, batch, type);
      return new Evaluation(0, meanLoss * batch.size(), batch.size());
    }
    INDArray x = batch.featureArray(type);
    INDArray y = batch.oneHotLabels(type, spec.numClasses());
    Evaluation total = Evaluation.empty();
    // slices of at most EVAL_SLICE examples: a convolution's activations for a 1000-example test
    // batch would take gigabytes
    for (int from = 0; from < batch.size(); from += EVAL_SLICE) {
      int to = Math.min(batch.size(), from + EVAL_SLICE);
      INDArray xs = x.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      INDArray ys = y.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      INDArray out = net.output(xs, false);
      long correct = countCorrect(out, batch, from);
      long top5 = Evaluation.correctInTopK(out, batch.labels(), from, 5);
      double meanLoss = net.score(new org.nd4j.linalg.dataset.DataSet(xs, ys), false);
      total = total.merge(new Evaluation(correct, top5, meanLoss * (to - from), to - from));
    }
    return total;
  }

  /** Correct predictions of {@code out}, the outputs for examples {@code from...} of the batch. */
  static long countCorrect(INDArray out, MiniBatch batch, int from) {
    INDArray predicted = out.argMax(1);
    long correct = 0;
    for (int i = 0; i < out.size(0); i++) {
      if (predicted.getInt(i) == batch.labels()[from + i]) {
        correct++;
      }
    }
    return correct;
  }
}
