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
 * instead of a dozen native passes, in loops that HotSpot compiles to SIMD code). The state lives
 * where the last step ran and is synchronised lazily; {@link #state()} always returns it current.
 * On the heap each state block is an array indexed like the parameters: a step on {@code params[p,
 * p + n)} keeps the block's values at {@code [p, p + n)} of an array of {@code p + n} (a ZeRO-1
 * shard's state takes k x its end offset floats of heap, at most what a replicated optimiser
 * holds), because HotSpot 17 vectorises a loop only when all its arrays share one index.
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

  /**
   * The state as Java arrays for the fused float32 step, one per state block (Adam: m, then v),
   * each holding the state of parameter {@code params[heapAt + i]} at index {@code heapAt + i}: the
   * loops then index every array alike, which HotSpot needs to vectorise them. Authoritative when
   * {@code onHeap}.
   */
  private float[][] heap = new float[0][];

  private int heapAt;

  private boolean onHeap;

  /** A gradient moved to the parameters' offset, for a fused step with {@code g != p}. */
  private float[] gradAtP;

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
      for (int j = 0; j < heap.length; j++) {
        FlatVector.copyInto(heap[j], heapAt, (int) numParams, state, j * numParams);
      }
      onHeap = false;
    }
  }

  /** Makes the heap arrays authoritative, with the state of parameter i at index {@code at + i}. */
  private void toHeap(int at) {
    if (onHeap && heapAt == at) {
      return;
    }
    toNative();
    int k = stateMultiplier(config.type());
    int n = (int) numParams;
    if (heap.length != k || (k > 0 && heap[0].length < at + n)) {
      heap = new float[k][at + n];
    }
    for (int j = 0; j < k; j++) {
      FlatVector.copyOut(j == 0 ? first : second, heap[j], at);
    }
    heapAt = at;
    onHeap = true;
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
   * first and then stepping gives, in one pass over the arrays (the global step's mean: {@code
   * gradScale = 1 / examples}); {@code grad} is left as it is.
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
    if (g != p) {
      // the loops index every array alike: the gradient moves to the parameters' offset
      if (gradAtP == null || gradAtP.length < p + n) {
        gradAtP = new float[p + n];
      }
      System.arraycopy(grad, g, gradAtP, p, n);
      grad = gradAtP;
    }
    toHeap(p);
    float[][] st = heap;
    float[] saved = raw.isEmpty() ? null : saveRaw(params, p);
    double rate = schedule.rate(iteration);
    float lr = (float) rate;
    float s = gradScale;
    int to = p + n;
    switch (config.type()) {
      case SGD -> sgd(params, grad, p, to, s, lr);
      case MOMENTUM -> momentum(params, grad, st[0], p, to, s, lr, (float) config.momentum());
      case NESTEROV ->
          nesterov(
              params,
              grad,
              st[0],
              p,
              to,
              s,
              lr,
              (float) config.momentum(),
              (float) (1 + config.momentum()));
      case ADAGRAD -> rmsProp(params, grad, st[0], p, to, s, lr, 1f, 1f, (float) config.epsilon());
      case RMSPROP ->
          rmsProp(
              params,
              grad,
              st[0],
              p,
              to,
              s,
              lr,
              (float) config.rmsDecay(),
              (float) (1 - config.rmsDecay()),
              (float) config.epsilon());
      case ADAM -> {
        long t = iteration + 1;
        adam(
            params,
            grad,
            st[0],
            st[1],
            p,
            to,
            s,
            (float) config.beta1(),
            (float) config.beta2(),
            (float) (1 - config.beta1()),
            (float) (1 - config.beta2()),
            (float) (1 - Math.pow(config.beta2(), t)),
            (float) (rate / (1 - Math.pow(config.beta1(), t))),
            (float) config.epsilon());
      }
      default -> throw new IllegalStateException("unknown optimiser " + config.type());
    }
    if (saved != null) {
      restoreRaw(saved, params, p, grad, gradScale);
    }
  }

  // The fused loops, over [from, to) of every array: one index, no offset (HotSpot 17's SuperWord
  // keeps a loop scalar when its arrays are indexed with different loop-invariant offsets, or
  // with two induction variables) and float arithmetic only ((float) Math.sqrt(float) compiles to
  // a float square root), so C2 turns each into SIMD code. The mean's scale is applied first, gi =
  // grad * s rounded to float, so the bits are those of scaling the gradient in place and then
  // stepping (s = 1 leaves every gradient value as it is).

  private static void sgd(float[] w, float[] grad, int from, int to, float s, float lr) {
    for (int i = from; i < to; i++) {
      w[i] -= grad[i] * s * lr;
    }
  }

  private static void momentum(
      float[] w, float[] grad, float[] vel, int from, int to, float s, float lr, float mu) {
    for (int i = from; i < to; i++) {
      float v = vel[i] * mu - grad[i] * s * lr;
      vel[i] = v;
      w[i] += v;
    }
  }

  private static void nesterov(
      float[] w,
      float[] grad,
      float[] vel,
      int from,
      int to,
      float s,
      float lr,
      float mu,
      float onePlusMu) {
    for (int i = from; i < to; i++) {
      float previous = vel[i];
      float v = previous * mu - grad[i] * s * lr;
      vel[i] = v;
      w[i] += previous * -mu + v * onePlusMu;
    }
  }

  /**
   * RMSProp's mean of squares; AdaGrad's sum of squares with {@code rho = 1, oneMinusRho = 1}
   * (multiplying by 1 is exact, so the bits are those of {@code h += g * g}).
   */
  private static void rmsProp(
      float[] w,
      float[] grad,
      float[] squares,
      int from,
      int to,
      float s,
      float lr,
      float rho,
      float oneMinusRho,
      float eps) {
    for (int i = from; i < to; i++) {
      float gi = grad[i] * s;
      float s2 = squares[i] * rho + gi * gi * oneMinusRho;
      squares[i] = s2;
      w[i] -= gi * lr / ((float) Math.sqrt(s2) + eps);
    }
  }

  private static void adam(
      float[] w,
      float[] grad,
      float[] first,
      float[] second,
      int from,
      int to,
      float s,
      float b1,
      float b2,
      float oneMinusB1,
      float oneMinusB2,
      float c2,
      float step,
      float eps) {
    for (int i = from; i < to; i++) {
      float gi = grad[i] * s;
      float m = first[i] * b1 + gi * oneMinusB1;
      float v = second[i] * b2 + gi * gi * oneMinusB2;
      first[i] = m;
      second[i] = v;
      w[i] -= m * step / ((float) Math.sqrt(v / c2) + eps);
    }
  }

  /** The parameters, then each state block, of the raw ranges, before a fused step. */
  private float[] saveRaw(float[] params, int p) {
    int k = heap.length;
    float[] saved = new float[rawLength() * (1 + k)];
    int o = 0;
    for (int j = -1; j < k; j++) {
      for (int r = 0; r < raw.count(); r++) {
        int len = raw.to(r) - raw.from(r);
        System.arraycopy(j < 0 ? params : heap[j], p + raw.from(r), saved, o, len);
        o += len;
      }
    }
    return saved;
  }

  /**
   * After a fused step: raw entries become {@code saved - grad * gradScale}, their state is put
   * back; {@code grad} is at the parameters' offset {@code p}.
   */
  private void restoreRaw(float[] saved, float[] params, int p, float[] grad, float gradScale) {
    int o = 0;
    for (int j = -1; j < heap.length; j++) {
      for (int r = 0; r < raw.count(); r++) {
        for (int i = p + raw.from(r); i < p + raw.to(r); i++, o++) {
          if (j < 0) {
            params[i] = saved[o] - grad[i] * gradScale;
          } else {
            heap[j][i] = saved[o];
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
