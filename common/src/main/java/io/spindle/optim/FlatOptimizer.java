package io.spindle.optim;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.model.RawUpdateRanges;
import io.spindle.tensor.FlatVector;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The global optimiser: updates one flat parameter vector in place from a flat gradient, keeping
 * all of its state in one flat vector, so state can be averaged across workers, sharded and
 * checkpointed.
 *
 * <p>Call order: {@link #create} (state zero), then {@link #step} once per global step with the
 * 0-based global iteration {@code t}; {@link #state()} and {@link #setState} may be called between
 * steps.
 *
 * <p>Update formulas, with gradient {@code g}, learning rate {@code lr} = the schedule's rate at
 * the global step ({@link LearningRateSchedule}), all operations element-wise:
 *
 * <ul>
 *   <li>SGD: {@code w -= lr * g}
 *   <li>Momentum (heavy ball): {@code v = mu * v - lr * g; w += v}
 *   <li>Nesterov (Sutskever's form): {@code v' = mu * v - lr * g; w += -mu * v + (1 + mu) * v'; v =
 *       v'}
 *   <li>AdaGrad: {@code h += g^2; w -= lr * g / (sqrt(h) + eps)}
 *   <li>RMSProp: {@code s = rho * s + (1 - rho) * g^2; w -= lr * g / (sqrt(s) + eps)}
 *   <li>Adam (Kingma and Ba 2015): {@code m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g^2; w
 *       -= lr * (m / (1 - b1^(t+1))) / (sqrt(v / (1 - b2^(t+1))) + eps)}
 * </ul>
 *
 * <p>State layout: SGD none; momentum and Nesterov {@code [v]}; AdaGrad {@code [h]}; RMSProp {@code
 * [s]}; Adam {@code [m | v]}. The gradient passed to {@link #step} is not modified.
 *
 * <p>Two forms of the step share one state: {@link #step(INDArray, INDArray, long)} on ND4J arrays
 * (either precision), and {@link #step(float[], int, float[], int, long)}, one fused pass over Java
 * arrays for float32 (the collective engine's hot path: one read and one write of each value
 * instead of a dozen native passes). The state lives where the last step ran and is synchronised
 * lazily; {@link #state()} always returns it current.
 *
 * <p>Entries named by {@link #rawUpdates} (batch normalisation's running statistics, see {@link
 * RawUpdateRanges}) are updated by plain subtraction, {@code w -= g}, whatever the optimiser and
 * learning rate, and their optimiser state stays zero, as DL4J's NoOp updater does for them.
 */
public final class FlatOptimizer {
  private final OptimizerConfig config;
  private final LearningRateSchedule schedule;
  private final long numParams;
  private final DataType dtype;
  private final INDArray state;
  private final INDArray first;
  private final INDArray second;
  private INDArray scratch;
  private INDArray scratch2;

  /** The state as a Java array, for the fused float32 step; authoritative when {@code onHeap}. */
  private float[] heapState;

  private boolean onHeap;

  private RawUpdateRanges raw = RawUpdateRanges.none();

  private FlatOptimizer(OptimizerConfig config, long numParams, DataType dtype) {
    this.config = config;
    this.schedule = LearningRateSchedule.of(config);
    this.numParams = numParams;
    this.dtype = dtype;
    int k = stateMultiplier(config.type());
    this.state = Nd4j.zeros(dtype, k * numParams);
    this.first = k >= 1 ? state.get(NDArrayIndex.interval(0, numParams)) : null;
    this.second = k >= 2 ? state.get(NDArrayIndex.interval(numParams, 2 * numParams)) : null;
  }

  public static FlatOptimizer create(OptimizerConfig config, long numParams, DataType dtype) {
    if (numParams <= 0) {
      throw new IllegalArgumentException("numParams must be > 0, got " + numParams);
    }
    if (dtype != DataType.FLOAT && dtype != DataType.DOUBLE) {
      throw new IllegalArgumentException("dtype must be FLOAT or DOUBLE, got " + dtype);
    }
    return new FlatOptimizer(config, numParams, dtype);
  }

  /** State values per parameter. */
  public static int stateMultiplier(OptimizerType type) {
    return switch (type) {
      case SGD -> 0;
      case MOMENTUM, NESTEROV, ADAGRAD, RMSPROP -> 1;
      case ADAM -> 2;
    };
  }

  /**
   * The state of parameters {@code [from, to)} cut out of the state {@code full} of a vector of
   * {@code numParams} parameters, in the same layout: each of the k blocks of {@code full} (Adam's
   * {@code [m | v]}) contributes its slice, so the result is the state of an optimiser over the
   * range. With {@link #placeState}, shards of the state can be cut and put back together at any
   * boundaries.
   */
  public static float[] sliceState(float[] full, long numParams, int from, int to) {
    int n = checkedLength(full.length, numParams, from, to);
    int k = (int) (full.length / numParams);
    float[] out = new float[k * (to - from)];
    for (int j = 0; j < k; j++) {
      System.arraycopy(full, j * n + from, out, j * (to - from), to - from);
    }
    return out;
  }

  /** Writes the state {@code shard} of parameters {@code [from, to)} into {@code full}. */
  public static void placeState(float[] shard, float[] full, long numParams, int from, int to) {
    int n = checkedLength(full.length, numParams, from, to);
    int k = (int) (full.length / numParams);
    if (shard.length != k * (to - from)) {
      throw new IllegalArgumentException(
          "the state of parameters ["
              + from
              + ", "
              + to
              + ") has "
              + k * (to - from)
              + " values, got "
              + shard.length);
    }
    for (int j = 0; j < k; j++) {
      System.arraycopy(shard, j * (to - from), full, j * n + from, to - from);
    }
  }

  private static int checkedLength(long stateLength, long numParams, int from, int to) {
    if (numParams <= 0 || stateLength % numParams != 0 || from < 0 || to < from || to > numParams) {
      throw new IllegalArgumentException(
          "cannot cut ["
              + from
              + ", "
              + to
              + ") out of the state of "
              + numParams
              + " parameters ("
              + stateLength
              + " values)");
    }
    return (int) numParams;
  }

  /**
   * Entries to update by plain subtraction; ranges relative to this optimiser's first parameter
   * (for a shard, {@link RawUpdateRanges#slice}). Returns this optimiser.
   */
  public FlatOptimizer rawUpdates(RawUpdateRanges ranges) {
    for (int r = 0; r < ranges.count(); r++) {
      if (ranges.to(r) > numParams) {
        throw new IllegalArgumentException(
            "raw-update range " + ranges + " exceeds the " + numParams + " parameters");
      }
    }
    this.raw = ranges;
    return this;
  }

  public OptimizerConfig config() {
    return config;
  }

  /** The learning rate of 0-based global step {@code iteration} (from the schedule). */
  public double learningRate(long iteration) {
    return schedule.rate(iteration);
  }

  public long numParams() {
    return numParams;
  }

  /** The live flat state vector (not a copy). */
  public INDArray state() {
    toNative();
    return state;
  }

  /** Copies {@code values} into the state. */
  public void setState(INDArray values) {
    if (values.length() != state.length()) {
      throw new IllegalArgumentException(
          config.type().configName()
              + " state has "
              + values.length()
              + " elements, expected "
              + state.length()
              + " ("
              + stateMultiplier(config.type())
              + " x "
              + numParams
              + " parameters)");
    }
    if (state.length() > 0) {
      state.assign(values.reshape(state.length()));
    }
    onHeap = false;
  }

  private void toNative() {
    if (onHeap) {
      FlatVector.copyInto(heapState, 0, heapState.length, state, 0);
      onHeap = false;
    }
  }

  private void toHeap() {
    if (!onHeap) {
      if (heapState == null) {
        heapState = new float[(int) state.length()];
      }
      if (heapState.length > 0) {
        FlatVector.copyOut(state, heapState, 0);
      }
      onHeap = true;
    }
  }

  /**
   * One update in place, float32, fused: {@code params[p, p + n) <- params - update(grad[g, g +
   * n))} at 0-based global step {@code iteration} with the schedule's learning rate of that step,
   * where n is {@link #numParams()}. Same formulas as the ND4J form; {@code grad} is not modified.
   */
  public void step(float[] params, int p, float[] grad, int g, long iteration) {
    step(params, p, grad, g, iteration, 1f);
  }

  /**
   * {@link #step(float[], int, float[], int, long)} of the gradient {@code grad[g, g + n) *
   * gradScale} (each entry multiplied in float32), bit for bit what scaling {@code grad} in place
   * first and then stepping gives, in one pass over the arrays for Adam (the global step's mean:
   * {@code gradScale = 1 / examples}). Adam leaves {@code grad} as it is; the other optimisers
   * scale it in place, then step (not fused).
   */
  public void step(float[] params, int p, float[] grad, int g, long iteration, float gradScale) {
    if (dtype != DataType.FLOAT) {
      throw new IllegalStateException("the fused step is float32, this optimiser is " + dtype);
    }
    int n = (int) numParams;
    if (p < 0 || g < 0 || p + n > params.length || g + n > grad.length) {
      throw new IllegalArgumentException(
          "a step over "
              + n
              + " values does not fit params["
              + p
              + "...] of "
              + params.length
              + " or grad["
              + g
              + "...] of "
              + grad.length);
    }
    if (iteration < 0) {
      throw new IllegalArgumentException("iteration must be >= 0, got " + iteration);
    }
    if (gradScale != 1f && config.type() != OptimizerType.ADAM) {
      for (int i = 0; i < n; i++) {
        grad[g + i] *= gradScale; // the other optimisers scale first (not fused)
      }
      step(params, p, grad, g, iteration, 1f);
      return;
    }
    toHeap();
    float[] st = heapState;
    float[] saved = raw.isEmpty() ? null : saveRaw(params, p, st);
    double rate = schedule.rate(iteration);
    float lr = (float) rate;
    switch (config.type()) {
      case SGD -> {
        for (int i = 0; i < n; i++) {
          params[p + i] -= grad[g + i] * lr;
        }
      }
      case MOMENTUM -> {
        float mu = (float) config.momentum();
        for (int i = 0; i < n; i++) {
          float v = st[i] * mu - grad[g + i] * lr;
          st[i] = v;
          params[p + i] += v;
        }
      }
      case NESTEROV -> {
        float mu = (float) config.momentum();
        float onePlusMu = (float) (1 + config.momentum());
        for (int i = 0; i < n; i++) {
          float previous = st[i];
          float v = previous * mu - grad[g + i] * lr;
          st[i] = v;
          params[p + i] += previous * -mu + v * onePlusMu;
        }
      }
      case ADAGRAD -> {
        float eps = (float) config.epsilon();
        for (int i = 0; i < n; i++) {
          float gi = grad[g + i];
          float h = st[i] + gi * gi;
          st[i] = h;
          params[p + i] -= gi * lr / ((float) Math.sqrt(h) + eps);
        }
      }
      case RMSPROP -> {
        float rho = (float) config.rmsDecay();
        float oneMinusRho = (float) (1 - config.rmsDecay());
        float eps = (float) config.epsilon();
        for (int i = 0; i < n; i++) {
          float gi = grad[g + i];
          float s2 = st[i] * rho + gi * gi * oneMinusRho;
          st[i] = s2;
          params[p + i] -= gi * lr / ((float) Math.sqrt(s2) + eps);
        }
      }
      case ADAM -> {
        long t = iteration + 1;
        float b1 = (float) config.beta1();
        float b2 = (float) config.beta2();
        float oneMinusB1 = (float) (1 - config.beta1());
        float oneMinusB2 = (float) (1 - config.beta2());
        float c2 = (float) (1 - Math.pow(config.beta2(), t));
        float step = (float) (rate / (1 - Math.pow(config.beta1(), t)));
        float eps = (float) config.epsilon();
        for (int i = 0, j = n; i < n; i++, j++) {
          float gi = grad[g + i] * gradScale;
          float m = st[i] * b1 + gi * oneMinusB1;
          float v = st[j] * b2 + gi * gi * oneMinusB2;
          st[i] = m;
          st[j] = v;
          params[p + i] -= m * step / ((float) Math.sqrt(v / c2) + eps);
        }
      }
      default -> throw new IllegalStateException("unknown optimiser " + config.type());
    }
    if (saved != null) {
      restoreRaw(saved, params, p, grad, g, gradScale, st);
    }
  }

  /** The parameters, then each state block, of the raw ranges, before a fused step. */
  private float[] saveRaw(float[] params, int p, float[] st) {
    int k = stateMultiplier(config.type());
    int n = (int) numParams;
    float[] saved = new float[rawLength() * (1 + k)];
    int o = 0;
    for (int j = -1; j < k; j++) {
      for (int r = 0; r < raw.count(); r++) {
        int len = raw.to(r) - raw.from(r);
        if (j < 0) {
          System.arraycopy(params, p + raw.from(r), saved, o, len);
        } else {
          System.arraycopy(st, j * n + raw.from(r), saved, o, len);
        }
        o += len;
      }
    }
    return saved;
  }

  /** After a fused step: raw entries become {@code saved - grad}, their state is put back. */
  private void restoreRaw(
      float[] saved, float[] params, int p, float[] grad, int g, float gradScale, float[] st) {
    int k = stateMultiplier(config.type());
    int n = (int) numParams;
    int o = 0;
    for (int j = -1; j < k; j++) {
      for (int r = 0; r < raw.count(); r++) {
        for (int i = raw.from(r); i < raw.to(r); i++, o++) {
          if (j < 0) {
            params[p + i] = saved[o] - grad[g + i] * gradScale;
          } else {
            st[j * n + i] = saved[o];
          }
        }
      }
    }
  }

  private int rawLength() {
    int len = 0;
    for (int r = 0; r < raw.count(); r++) {
      len += raw.to(r) - raw.from(r);
    }
    return len;
  }

  /**
   * One update in place: {@code params <- params - update(gradient)} at 0-based global step {@code
   * iteration}, with the schedule's learning rate of that step.
   */
  public void step(INDArray params, INDArray gradient, long iteration) {
    step(params, gradient, iteration, schedule.rate(iteration));
  }

  /** One update in place with an explicit learning rate (the schedule is not consulted). */
  public void step(INDArray params, INDArray gradient, long iteration, double learningRate) {
    check("params", params);
    check("gradient", gradient);
    if (!java.util.Arrays.equals(gradient.shape(), params.shape())) {
      gradient = gradient.reshape(params.shape()); // [1, n] and [n] hold the same flat vector
    }
    if (iteration < 0) {
      throw new IllegalArgumentException("iteration must be >= 0, got " + iteration);
    }
    toNative();
    INDArray[] saved = raw.isEmpty() ? null : saveRaw(params);
    double lr = learningRate;
    switch (config.type()) {
      case SGD -> params.subi(gradient.mul(lr));
      case MOMENTUM -> {
        first.muli(config.momentum()).subi(gradient.mul(lr));
        params.addi(first);
      }
      case NESTEROV -> {
        double mu = config.momentum();
        INDArray previous = scratch().assign(first);
        first.muli(mu).subi(gradient.mul(lr));
        params.addi(previous.muli(-mu)).addi(first.mul(1 + mu));
      }
      case ADAGRAD -> {
        first.addi(gradient.mul(gradient));
        INDArray denominator = Transforms.sqrt(first, true).addi(config.epsilon());
        params.subi(gradient.mul(lr).divi(denominator));
      }
      case RMSPROP -> {
        double rho = config.rmsDecay();
        first.muli(rho).addi(gradient.mul(gradient).muli(1 - rho));
        INDArray denominator = Transforms.sqrt(first, true).addi(config.epsilon());
        params.subi(gradient.mul(lr).divi(denominator));
      }
      case ADAM -> {
        // in place on preallocated scratch: no temporary the size of the model per step
        double b1 = config.beta1();
        double b2 = config.beta2();
        long t = iteration + 1;
        INDArray a = scratch();
        INDArray b = scratch2();
        first.muli(b1).addi(a.assign(gradient).muli(1 - b1));
        second.muli(b2).addi(a.assign(gradient).muli(gradient).muli(1 - b2));
        double c1 = 1 - Math.pow(b1, t);
        double c2 = 1 - Math.pow(b2, t);
        b.assign(second).divi(c2);
        Transforms.sqrt(b, false).addi(config.epsilon());
        params.subi(a.assign(first).muli(lr / c1).divi(b));
      }
      default -> throw new IllegalStateException("unknown optimiser " + config.type());
    }
    if (saved != null) {
      restoreRaw(saved, params, gradient);
    }
  }

  /** Copies of the raw ranges of the parameters, then of each state block. */
  private INDArray[] saveRaw(INDArray params) {
    int k = stateMultiplier(config.type());
    INDArray flat = params.reshape(numParams);
    INDArray[] saved = new INDArray[raw.count() * (1 + k)];
    for (int r = 0; r < raw.count(); r++) {
      saved[r] = flat.get(NDArrayIndex.interval(raw.from(r), raw.to(r))).dup();
      for (int j = 0; j < k; j++) {
        saved[(j + 1) * raw.count() + r] =
            state
                .get(NDArrayIndex.interval(j * numParams + raw.from(r), j * numParams + raw.to(r)))
                .dup();
      }
    }
    return saved;
  }

  private void restoreRaw(INDArray[] saved, INDArray params, INDArray gradient) {
    int k = stateMultiplier(config.type());
    INDArray flat = params.reshape(numParams);
    INDArray grad = gradient.reshape(numParams);
    for (int r = 0; r < raw.count(); r++) {
      flat.get(NDArrayIndex.interval(raw.from(r), raw.to(r)))
          .assign(saved[r].sub(grad.get(NDArrayIndex.interval(raw.from(r), raw.to(r)))));
      for (int j = 0; j < k; j++) {
        state
            .get(NDArrayIndex.interval(j * numParams + raw.from(r), j * numParams + raw.to(r)))
            .assign(saved[(j + 1) * raw.count() + r]);
      }
    }
  }

  private INDArray scratch() {
    if (scratch == null) {
      scratch = Nd4j.zeros(dtype, numParams);
    }
    return scratch;
  }

  private INDArray scratch2() {
    if (scratch2 == null) {
      scratch2 = Nd4j.zeros(dtype, numParams);
    }
    return scratch2;
  }

  private void check(String what, INDArray a) {
    if (a.length() != numParams) {
      throw new IllegalArgumentException(
          what + " has " + a.length() + " elements, expected " + numParams);
    }
    if (a.dataType() != dtype) {
      throw new IllegalArgumentException(what + " is " + a.dataType() + ", expected " + dtype);
    }
  }
}
