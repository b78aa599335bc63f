package io.spindle.config;

/**
 * The global optimiser. Which fields matter depends on {@code type}; see {@code
 * io.spindle.optim.FlatOptimizer} for the update formulas.
 *
 * @param type sgd, momentum, nesterov, adagrad, rmsprop or adam
 * @param learningRate step size (> 0)
 * @param momentum momentum coefficient for momentum and nesterov, in [0, 1)
 * @param beta1 Adam's first-moment decay, in [0, 1)
 * @param beta2 Adam's second-moment decay, in [0, 1)
 * @param epsilon added to denominators of AdaGrad, RMSProp and Adam (> 0)
 * @param rmsDecay RMSProp's decay of the squared-gradient average, in [0, 1)
 */
public record OptimizerConfig(
    OptimizerType type,
    double learningRate,
    double momentum,
    double beta1,
    double beta2,
    double epsilon,
    double rmsDecay)
    implements java.io.Serializable {
  public OptimizerConfig {
    Check.notNull("type", type);
    Check.positive("learningRate", learningRate);
    Check.inRange("momentum", momentum, 0.0, 1.0);
    Check.inRange("beta1", beta1, 0.0, 1.0);
    Check.inRange("beta2", beta2, 0.0, 1.0);
    Check.positive("epsilon", epsilon);
    Check.inRange("rmsDecay", rmsDecay, 0.0, 1.0);
  }

  public static OptimizerConfig of(OptimizerType type, double learningRate) {
    return new OptimizerConfig(type, learningRate, 0.9, 0.9, 0.999, 1e-8, 0.95);
  }
}
