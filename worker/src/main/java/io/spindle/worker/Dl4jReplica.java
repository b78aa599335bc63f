package io.spindle.worker;

import io.spindle.compress.GradientLayout;
import io.spindle.data.MiniBatch;
import io.spindle.model.ParameterRules;
import io.spindle.sync.Evaluation;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.util.Convolution1DUtils;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * What the two DL4J replicas share, a stack ({@link MultiLayerReplica}) and a graph ({@link
 * GraphReplica}): the parameter rules and layout of the network's flat vectors, the training
 * accuracy counter, the classifier's forward and backward pass with batch norm's statistics made
 * sums, and evaluation in slices. A subclass says how its DL4J network runs a batch ({@link
 * #forwardBackward}), predicts ({@link #output}) and scores ({@link #score}), and may predict and
 * score a slice in one forward pass ({@link #outputAndScore}).
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

  /** A slice's outputs and its mean loss (the regularization term included, as DL4J's score). */
  record Scored(INDArray output, double meanLoss) {}

  /**
   * What {@link #output} and {@link #score} give for these features and one-hot labels. Here by
   * calling both, two forward passes; a subclass whose network allows it gets both from one pass,
   * the same operations on the same values, so the same bits.
   */
  Scored outputAndScore(INDArray features, INDArray labels) {
    return new Scored(output(features), score(new DataSet(features, labels)));
  }

  /** Whether {@link #outputAndScore} takes one forward pass for this network; for tests. */
  boolean scoresInOnePass() {
    return false;
  }

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
      Scored s = outputAndScore(xs, ys);
      long correct = countCorrect(s.output(), batch, from);
      long top5 = Evaluation.correctInTopK(s.output(), batch.labels(), from, 5);
      total = total.merge(new Evaluation(correct, top5, s.meanLoss() * (to - from), to - from));
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

  /**
   * Frees now, instead of when the garbage collector finds them, the off-heap buffers of {@code
   * arrays} (activations of a finished forward pass, allocated outside DL4J's workspaces) that
   * share no memory with any of {@code kept}. Views, arrays in a workspace and arrays already freed
   * are not closeable and are left alone; an array listed twice is freed once.
   */
  static void release(Collection<INDArray> arrays, INDArray... kept) {
    for (INDArray a : arrays) {
      if (a == null || !a.closeable()) {
        continue;
      }
      boolean shared = false;
      for (INDArray k : kept) {
        shared |= overlap(a, k);
      }
      if (!shared) {
        a.close();
      }
    }
  }

  /** Whether the buffers of {@code a} and {@code b} overlap in memory. */
  private static boolean overlap(INDArray a, INDArray b) {
    if (a.isEmpty() || b.isEmpty()) {
      return false;
    }
    long aFrom = a.data().address();
    long aTo = aFrom + a.data().length() * a.data().getElementSize();
    long bFrom = b.data().address();
    long bTo = bFrom + b.data().length() * b.data().getElementSize();
    return aFrom < bTo && bFrom < aTo;
  }

  /**
   * Whether these layers use one image data format and one sequence data format. DL4J's {@code
   * output} permutes an activation between two neighbouring layers of different formats (by {@code
   * ConvolutionUtils} and {@code Convolution1DUtils}, as here); the one-pass routes' {@code
   * feedForward} (a graph's, the pass its {@code score} runs) and {@code feedForwardToLayer} (a
   * stack's) do not. With one format of each kind nothing is permuted, and one pass computes what
   * the two compute.
   */
  static boolean oneDataFormat(Stream<Layer> layers) {
    Set<Object> images = new HashSet<>();
    Set<Object> sequences = new HashSet<>();
    layers.forEach(
        l -> {
          if (ConvolutionUtils.layerHasConvolutionLayout(l)) {
            images.add(ConvolutionUtils.getFormatForLayer(l));
          }
          if (Convolution1DUtils.hasRnnDataFormat(l)) {
            sequences.add(Convolution1DUtils.getRnnFormatFromLayer(l));
          }
        });
    return images.size() <= 1 && sequences.size() <= 1;
  }
}
