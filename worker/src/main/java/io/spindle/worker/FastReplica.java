package io.spindle.worker;

import io.spindle.compress.GradientLayout;
import io.spindle.data.MiniBatch;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.model.fast.FastPath;
import io.spindle.sync.Evaluation;
import java.util.Optional;
import java.util.function.IntFunction;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A {@link TrainableNetwork} whose forward and backward pass run on Spindle's fast kernels ({@link
 * FastPath}: {@code FastDenseNet} for MLPs, {@code FastConvNet} for convolutional networks, {@code
 * FastResidualNet} for graph models) instead of DL4J's layers. It holds the same DL4J network as
 * {@link MultiLayerReplica} or {@link GraphReplica} (built by {@code ModelFactory} or {@code
 * GraphFactory} from the same seed) and computes on that network's own flat parameter and gradient
 * vectors, so the parameters, their layout, checkpoints and saved models are DL4J's; {@link
 * #computeGradient} differs, and so does {@link #evaluate} where the kernels evaluate the model
 * (dense and convolutional stacks; DL4J's layers evaluate graph models). It computes what {@code
 * MultiLayerReplica} computes (the gradient summed over the batch, batch norm's running statistics
 * as sums of raw updates, the mean loss with the L1/L2 penalty as DL4J's score adds it) up to float
 * rounding, with the same dropout masks ({@code FastReplicaTest}).
 *
 * <p>The kernels' buffers are sized for the largest batch seen so far and grow when a larger one
 * arrives (once per task, in practice). Evaluation has kernels of its own, for slices of {@link
 * Dl4jReplica#EVAL_SLICE} examples, so that it never changes what training computes on.
 */
final class FastReplica implements TrainableNetwork {
  private final Dl4jReplica reference;
  private final IntFunction<Optional<FastPath>> kernels; // for a largest batch
  private final IntFunction<Optional<FastPath>> evaluators; // for a slice; empty: DL4J's layers
  private FastPath path;
  private Optional<FastPath> evaluator; // null until the first evaluation
  private int capacity;
  private float[] decoded = new float[0];
  private long[] times;

  private FastReplica(
      Dl4jReplica reference,
      IntFunction<Optional<FastPath>> kernels,
      IntFunction<Optional<FastPath>> evaluators) {
    this.reference = reference;
    this.kernels = kernels;
    this.evaluators = evaluators;
  }

  /** Over a stack's network ({@link MultiLayerReplica}). */
  FastReplica(ModelSpec spec) {
    this(new MultiLayerReplica(spec), spec);
  }

  private FastReplica(MultiLayerReplica reference, ModelSpec spec) {
    this(
        reference,
        batch -> FastPath.of(reference.network(), spec.model(), spec.numInputs(), batch),
        slice ->
            FastPath.forEvaluation(reference.network(), spec.model(), spec.numInputs(), slice));
  }

  /** Over a graph model's network ({@link GraphReplica}, residual networks). */
  static FastReplica ofGraph(ModelSpec spec) {
    GraphReplica reference = new GraphReplica(spec);
    return new FastReplica(
        reference,
        batch -> FastPath.of(reference.network(), spec.model(), spec.numInputs(), batch),
        slice -> Optional.empty());
  }

  @Override
  public INDArray params() {
    return reference.params();
  }

  @Override
  public ParameterRules rules() {
    return reference.rules();
  }

  @Override
  public GradientLayout gradientLayout() {
    return reference.gradientLayout();
  }

  @Override
  public double computeGradient(MiniBatch batch, StepKey key) {
    int rows = batch.size();
    if (rows == 0) {
      throw new IllegalArgumentException(
          "step " + batch.step() + ": a gradient needs at least one example, got an empty batch");
    }
    if (path == null || rows > capacity) {
      capacity = Math.max(rows, capacity);
      path =
          kernels
              .apply(capacity)
              .orElseThrow(
                  () ->
                      new IllegalStateException(
                          "model.kernels: the fast kernels need ND4J's CPU backend with oneDNN"
                              + " (nd4j-native, onednn build), which this executor did not load;"
                              + " set model.kernels: dl4j or auto"));
      path.recordTimes(times);
    }
    double meanLoss = path.computeGradient(features(batch), batch.labels(), rows, key);
    ParameterRules rules = reference.rules();
    rules.rawUpdates().scaleToSum(reference.gradient(), rows);
    if (rules.regularization().isActive()) {
      meanLoss += rules.regularization().penalty(reference.params()); // as DL4J's score adds it
    }
    return meanLoss;
  }

  private float[] features(MiniBatch batch) {
    if (!batch.isEncoded()) {
      return batch.features();
    }
    int n = batch.size() * batch.numFeatures();
    if (decoded.length < n) {
      decoded = new float[n];
    }
    batch.decodeFeatures(decoded);
    return decoded;
  }

  @Override
  public INDArray gradient() {
    return reference.gradient();
  }

  /** The fast path's precision once it is built (the first step); DL4J's float32 before. */
  @Override
  public io.spindle.config.Precision computePrecision() {
    return path != null ? path.precision() : TrainableNetwork.super.computePrecision();
  }

  @Override
  public long correctOfLastForward() {
    return path == null ? 0 : path.correct();
  }

  /**
   * On the kernels where they evaluate the model (in slices of {@link Dl4jReplica#EVAL_SLICE}, as
   * DL4J's evaluation), else on DL4J's layers. The counts are DL4J's up to float rounding of the
   * outputs; the data loss is DL4J's to a relative 1e-6 (dense: against DL4J's float32 layers; CNN:
   * against its float64 layers), the L1/L2 term is the one the fast training loss adds ({@code
   * FastReplicaTest}).
   */
  @Override
  public Evaluation evaluate(MiniBatch batch) {
    if (evaluator == null) {
      evaluator = evaluators.apply(Dl4jReplica.EVAL_SLICE);
    }
    if (evaluator.isEmpty() || batch.isEmpty()) {
      return reference.evaluate(batch);
    }
    float[] x = features(batch);
    ParameterRules rules = reference.rules();
    double penalty =
        rules.regularization().isActive() ? rules.regularization().penalty(reference.params()) : 0;
    Evaluation total = Evaluation.empty();
    for (int from = 0; from < batch.size(); from += Dl4jReplica.EVAL_SLICE) {
      int rows = Math.min(Dl4jReplica.EVAL_SLICE, batch.size() - from);
      total = total.merge(evaluator.get().evaluate(x, from, batch.labels(), rows, penalty));
    }
    return total;
  }

  /**
   * Per-layer forward ({@code [2 l]}) and backward ({@code [2 l + 1]}) nanoseconds added up on
   * every later pass, for the step profiler; null stops it.
   */
  public void recordTimes(long[] nanos) {
    this.times = nanos;
    if (path != null) {
      path.recordTimes(nanos);
    }
  }
}
