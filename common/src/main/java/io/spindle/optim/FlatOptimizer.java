package io.spindle.optim;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
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
 * <p>Update formulas, with gradient {@code g}, learning rate {@code lr}, all operations
 * element-wise:
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
 */
public final class FlatOptimizer {
  private final OptimizerConfig config;
  private final long numParams;
  private final DataType dtype;
  private final INDArray state;
  private final INDArray first;
  private final INDArray second;
  private INDArray scratch;
  private INDArray scratch2;

  private FlatOptimizer(OptimizerConfig config, long numParams, DataType dtype) {
    this.config = config;
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

  public OptimizerConfig config() {
    return config;
  }

  public long numParams() {
    return numParams;
  }

  /** The live flat state vector (not a copy). */
  public INDArray state() {
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
  }

  public void step(INDArray params, INDArray gradient, long iteration) {
    step(params, gradient, iteration, config.learningRate());
  }

  /** One update in place: {@code params <- params - update(gradient)} at 0-based iteration. */
  public void step(INDArray params, INDArray gradient, long iteration, double learningRate) {
    check("params", params);
    check("gradient", gradient);
    if (!java.util.Arrays.equals(gradient.shape(), params.shape())) {
      gradient = gradient.reshape(params.shape()); // [1, n] and [n] hold the same flat vector
    }
    if (iteration < 0) {
      throw new IllegalArgumentException("iteration must be >= 0, got " + iteration);
    }
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
