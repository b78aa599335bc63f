package io.spindle.optim;

import io.spindle.config.OptimizerConfig;
import io.spindle.model.CancelledBiases;
import io.spindle.model.MaxNorm;
import io.spindle.model.ParameterRules;
import io.spindle.model.Regularization;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The one global update of Spindle, on a range {@code [from, to)} of the flat parameter vector.
 * Every sync mode applies it: gradient sharing on the driver, parameter averaging in each worker's
 * local steps, the collective engine on each shard (ZeRO-1) or on the whole vector (replicated),
 * and so does layer-wise pre-training, which trains through the same sync modes.
 *
 * <p>For a gradient {@code G} summed over {@code B} examples at 0-based global step {@code t}:
 *
 * <ol>
 *   <li>mean: {@code g = G / B}; biases that a batch norm cancels ({@code CancelledBiases}) get
 *       their exact gradient, {@code g = 0}, instead of DL4J's rounding noise;
 *   <li>penalty: {@code g += l1 * sign(w) + l2 * w} on the weights ({@link Regularization}), and
 *       weight decay {@code g += lambda * w} ({@code optimizer.weightDecay}) on the entries whose
 *       kind ({@link io.spindle.model.ParameterKinds}) it does not leave out ({@code
 *       optimizer.weightDecayExclude}: batch norm's scale and shift, biases), never on batch norm's
 *       running statistics;
 *   <li>optimiser: {@code w <- update(w, g, t)} ({@link FlatOptimizer}, with the learning rate of
 *       step t from the schedule); batch-norm statistics ({@code RawUpdateRanges}) instead get
 *       {@code w <- w - g} and keep a zero state;
 *   <li>constraint: max-norm on the whole vector ({@link MaxNorm}).
 * </ol>
 *
 * Steps 1-3 are {@link #update}, which touches only the range; step 4 is {@link #constrain}, which
 * needs the whole vector (a unit's weights may straddle a shard's boundary), so a shard calls it
 * after its all-gather; {@link #apply} does both on a step that covers the whole vector.
 *
 * <p>Call order: {@link #create} (state zero), optionally {@link #setState}; then per global step
 * {@code update} and {@code constrain} (or {@code apply}); {@link #state()} and {@code setState}
 * between steps. The state is the optimiser state of the range, laid out as {@link FlatOptimizer}'s
 * (k blocks of {@code to - from} values); {@link FlatOptimizer#sliceState} and {@link
 * FlatOptimizer#placeState} cut a whole vector's state into ranges and put it back together, so
 * shards can be re-cut at other boundaries ({@link #range}).
 *
 * <p>Two forms share one state: ND4J arrays (float32 or float64) and Java float arrays (float32,
 * the collective engine's fused pass). The gradient sum is scaled in place (only within the range)
 * and must not be used afterwards.
 */
public final class GlobalStep {
  private final OptimizerConfig optimizer;
  private final ParameterRules rules;
  private final int from;
  private final int to;
  private final Regularization regularization;
  private final CancelledBiases cancelled;
  private final FlatOptimizer flat;

  /**
   * Ranges {@code from, to} of the whole vector, within this step's range, that weight decay adds
   * to.
   */
  private final int[] decayed;

  /**
   * Whether nothing changes the range's mean gradient before the optimiser (no cancelled bias, no
   * penalty, no weight decay): then the float32 form folds the mean into the optimiser's pass
   * ({@link FlatOptimizer#step(float[], int, float[], int, long, float)}, bit for bit the same).
   */
  private final boolean fusedMean;

  private GlobalStep(OptimizerConfig optimizer, ParameterRules rules, int from, int to) {
    long n = rules.numParams();
    if (from < 0 || to <= from || to > n) {
      throw new IllegalArgumentException(
          "range [" + from + ", " + to + ") is not a non-empty part of " + n + " parameters");
    }
    this.optimizer = optimizer;
    this.rules = rules;
    this.from = from;
    this.to = to;
    this.regularization = rules.regularization().slice(from, to);
    this.decayed =
        optimizer.weightDecay() == 0
            ? new int[0]
            : rules.kinds().decayed(optimizer.weightDecayExclude(), from, to);
    this.cancelled = rules.cancelledBiases().slice(from, to);
    this.flat =
        FlatOptimizer.create(optimizer, to - from, rules.type())
            .rawUpdates(rules.rawUpdates().slice(from, to));
    this.fusedMean = cancelled.isEmpty() && !regularization.isActive() && decayed.length == 0;
  }

  /**
   * The step over parameters {@code [from, to)} of a network with {@code rules}, state zero.
   *
   * @param optimizer a resolved optimiser ({@link OptimizerConfig#resolve})
   */
  public static GlobalStep create(
      OptimizerConfig optimizer, ParameterRules rules, int from, int to) {
    return new GlobalStep(optimizer, rules, from, to);
  }

  /** The step over the whole vector, state zero. */
  public static GlobalStep create(OptimizerConfig optimizer, ParameterRules rules) {
    return new GlobalStep(optimizer, rules, 0, (int) rules.numParams());
  }

  /**
   * The step over {@code [from, to)} with this step's state for that range; this step must cover it
   * (re-cutting a shard: take the whole state, then ranges of it).
   */
  public GlobalStep range(int from, int to) {
    if (from < this.from || to > this.to) {
      throw new IllegalArgumentException(
          "[" + from + ", " + to + ") is outside this step's [" + this.from + ", " + this.to + ")");
    }
    GlobalStep out = new GlobalStep(optimizer, rules, from, to);
    INDArray mine = state().reshape(stateLength());
    long length = this.to - this.from;
    long cut = to - from;
    int k = (int) (stateLength() / length);
    INDArray state = Nd4j.create(rules.type(), k * cut);
    for (int j = 0; j < k; j++) {
      long a = j * length + from - this.from;
      state
          .get(NDArrayIndex.interval(j * cut, (j + 1) * cut))
          .assign(mine.get(NDArrayIndex.interval(a, a + cut)));
    }
    out.setState(state);
    return out;
  }

  public int from() {
    return from;
  }

  public int to() {
    return to;
  }

  /** Whether this step covers the whole parameter vector. */
  public boolean isWhole() {
    return from == 0 && to == rules.numParams();
  }

  /** The learning rate of 0-based global step {@code iteration} (from the schedule). */
  public double learningRate(long iteration) {
    return flat.learningRate(iteration);
  }

  /** The live optimiser state of the range (not a copy). */
  public INDArray state() {
    return flat.state();
  }

  /** Number of state values (k x the range's length; 0 for SGD). */
  public long stateLength() {
    return flat.state().length();
  }

  /** Copies {@code values} (the range's state, {@link FlatOptimizer}'s layout) into the state. */
  public void setState(INDArray values) {
    flat.setState(values);
  }

  /**
   * Steps 1-3 on the range: {@code params} and {@code gradientSum} are whole vectors (any shape
   * holding them in order); {@code gradientSum} becomes the mean gradient within the range.
   */
  public void update(INDArray params, INDArray gradientSum, long examples, long iteration) {
    checkExamples(examples);
    INDArray w = part(params);
    INDArray g = part(gradientSum).divi(examples);
    cancelled.zero(g);
    regularization.addGradient(w, g);
    addWeightDecay(w, g);
    flat.step(w, g, iteration);
  }

  /**
   * Steps 1-3 on the range, float32 and fused; the arrays are whole vectors. When nothing comes
   * between the mean and the optimiser, the mean is taken inside the optimiser's pass and, for
   * Adam, {@code gradientSum} is left as it is.
   */
  public void update(float[] params, float[] gradientSum, long examples, long iteration) {
    checkExamples(examples);
    float scale = (float) (1.0 / examples);
    if (fusedMean) {
      // nothing between the mean and the optimiser: the mean is taken inside its pass
      flat.step(params, from, gradientSum, from, iteration, scale);
      return;
    }
    for (int i = from; i < to; i++) {
      gradientSum[i] *= scale;
    }
    cancelled.zero(gradientSum, from);
    regularization.addGradient(params, from, gradientSum, from);
    if (decayed.length > 0) {
      float lambda = (float) optimizer.weightDecay();
      for (int r = 0; r < decayed.length; r += 2) {
        for (int i = decayed[r]; i < decayed[r + 1]; i++) {
          gradientSum[i] += lambda * params[i];
        }
      }
    }
    flat.step(params, from, gradientSum, from, iteration);
  }

  /** {@code g += lambda * w} on the decayed ranges; {@code w} and {@code g} are this range's. */
  private void addWeightDecay(INDArray w, INDArray g) {
    if (decayed.length == 0) {
      return;
    }
    long n = to - from;
    INDArray wv = w.reshape(n);
    INDArray gv = g.reshape(n);
    double lambda = optimizer.weightDecay();
    for (int r = 0; r < decayed.length; r += 2) {
      org.nd4j.linalg.indexing.INDArrayIndex at =
          NDArrayIndex.interval(decayed[r] - from, decayed[r + 1] - from);
      gv.get(at).addi(wv.get(at).mul(lambda));
    }
  }

  /** The ranges {@code from, to} (whole-vector indices) weight decay applies to in this step. */
  public int[] decayedRanges() {
    return decayed.clone();
  }

  /** Step 4, max-norm, on the whole vector {@code params}. */
  public void constrain(INDArray params) {
    rules.maxNorm().apply(params);
  }

  /** Step 4, max-norm, on the whole vector {@code params}. */
  public void constrain(float[] params) {
    rules.maxNorm().apply(params, 0);
  }

  /** The whole update (steps 1-4) of a step that covers the whole vector. */
  public void apply(INDArray params, INDArray gradientSum, long examples, long iteration) {
    requireWhole();
    update(params, gradientSum, examples, iteration);
    constrain(params);
  }

  /** The whole update (steps 1-4), float32 and fused, of a step that covers the whole vector. */
  public void apply(float[] params, float[] gradientSum, long examples, long iteration) {
    requireWhole();
    update(params, gradientSum, examples, iteration);
    constrain(params);
  }

  private INDArray part(INDArray whole) {
    long n = rules.numParams();
    if (whole.length() != n) {
      throw new IllegalArgumentException(
          "expected a vector of " + n + " parameters, got " + whole.length());
    }
    return isWhole() ? whole : whole.reshape(n).get(NDArrayIndex.interval(from, to));
  }

  private void requireWhole() {
    if (!isWhole()) {
      throw new IllegalStateException(
          "apply needs the whole vector; the shard ["
              + from
              + ", "
              + to
              + ") calls update, then constrain after its all-gather");
    }
  }

  private static void checkExamples(long examples) {
    if (examples <= 0) {
      throw new IllegalArgumentException(
          "a global step needs at least one example, got " + examples);
    }
  }
}
