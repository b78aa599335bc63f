package io.spindle.worker;

import io.spindle.compress.GradientLayout;
import io.spindle.data.MiniBatch;
import io.spindle.model.ParameterRules;
import io.spindle.sync.Evaluation;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * What the two DL4J replicas share, a stack ({@link MultiLayerReplica}) and a graph ({@link
 * GraphReplica}): the parameter rules and layout of the network's flat vectors, the training
 * accuracy counter, the classifier's forward and backward pass with batch norm's statistics made
 * sums, and evaluation in slices. A subclass says how its DL4J network runs a batch ({@link
 * #forwardBackward}), predicts ({@link #output}) and scores ({@link #score}).
 */
abstract class Dl4jReplica implements TrainableNetwork {
  /** Test examples per forward pass in {@link #evaluate}. */
  static final int EVAL_SLICE = 200;

  final ModelSpec spec;
  final AccuracyCounter counter;
  private final Model model;
  private final ParameterRules rules;
  private GradientLayout layout;

  Dl4jReplica(ModelSpec spec, Model model, AccuracyCounter counter, ParameterRules rules) {
    this.spec = spec;
    this.model = model;
    this.counter = counter;
    this.rules = rules;
    model.addListeners(counter);
  }

  /** Forward and backward pass of the network over features and one-hot labels. */
  abstract void forwardBackward(INDArray features, INDArray labels);

  /** The network's output for {@code features}, in inference mode. */
  abstract INDArray output(INDArray features);

  /** The mean loss of {@code data}, in inference mode. */
  abstract double score(DataSet data);

  @Override
  public INDArray params() {
    return model.params();
  }

  @Override
  public ParameterRules rules() {
    return rules;
  }

  @Override
  public GradientLayout gradientLayout() {
    if (layout == null) {
      layout = GradientLayout.of(model);
    }
    return layout;
  }

  @Override
  public long correctOfLastForward() {
    return counter.correct();
  }

  /** The classifier's forward and backward pass over {@code batch}; returns the mean loss. */
  double classifierGradient(MiniBatch batch) {
    DataType type = spec.dataType();
    counter.expect(batch.labels());
    forwardBackward(batch.featureArray(type), batch.oneHotLabels(type, spec.numClasses()));
    // batch-norm statistics carry a per-batch update, not a sum over examples: make it one
    rules.rawUpdates().scaleToSum(gradient(), batch.size());
    return model.score();
  }

  /** Top-1, top-5 and summed loss of a classifier over {@code batch}, in slices. */
  Evaluation evaluateClassifier(MiniBatch batch) {
    if (batch.isEmpty()) {
      return Evaluation.empty();
    }
    DataType type = spec.dataType();
    INDArray x = batch.featureArray(type);
    INDArray y = batch.oneHotLabels(type, spec.numClasses());
    Evaluation total = Evaluation.empty();
    // slices of at most EVAL_SLICE examples: a convolution's activations for a 1000-example test
    // batch would take gigabytes
    for (int from = 0; from < batch.size(); from += EVAL_SLICE) {
      int to = Math.min(batch.size(), from + EVAL_SLICE);
      INDArray xs = x.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      INDArray ys = y.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      INDArray out = output(xs);
      long correct = countCorrect(out, batch, from);
      long top5 = Evaluation.correctInTopK(out, batch.labels(), from, 5);
      double meanLoss = score(new DataSet(xs, ys));
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
