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
 * @param schedule the learning rate as a function of the global step (default: constant)
 * @param weightDecay lambda of the optimiser's weight decay (>= 0; 0 = none): the global step adds
 *     {@code lambda * w} to the mean gradient of every decayed parameter before the optimiser's
 *     update (SGD's coupled weight decay, as PyTorch's {@code weight_decay} and Caffe's), on
 *     weights, biases and batch norm's scale and shift, never on batch norm's running statistics
 * @param weightDecayExclude the groups weight decay leaves out: {@code batch_norm} (scale and
 *     shift), {@code bias}; empty = decay them all (absent = empty)
 */
public record OptimizerConfig(
    OptimizerType type,
    double learningRate,
    double momentum,
    double beta1,
    double beta2,
    double epsilon,
    double rmsDecay,
    ScheduleConfig schedule,
    double weightDecay,
    java.util.List<ParameterGroup> weightDecayExclude)
    implements java.io.Serializable {
  public OptimizerConfig {
    Check.notNull("type", type);
    Check.positive("learningRate", learningRate);
    Check.inRange("momentum", momentum, 0.0, 1.0);
    Check.inRange("beta1", beta1, 0.0, 1.0);
    Check.inRange("beta2", beta2, 0.0, 1.0);
    Check.positive("epsilon", epsilon);
    Check.inRange("rmsDecay", rmsDecay, 0.0, 1.0);
    Check.notNull("schedule", schedule);
    Check.nonNegative("weightDecay", weightDecay);
    weightDecayExclude =
        weightDecayExclude == null
            ? java.util.List.of()
            : java.util.List.copyOf(weightDecayExclude);
    if (weightDecayExclude.size() != new java.util.HashSet<>(weightDecayExclude).size()) {
      throw new ConfigException(
          "weightDecayExclude lists a group twice: "
              + weightDecayExclude.stream().map(ParameterGroup::configName).toList());
    }
    if (schedule.type() == ScheduleType.COSINE && schedule.finalRate() > learningRate) {
      throw new ConfigException(
          "schedule.finalRate (a_min of the cosine schedule) must be <= learningRate "
              + learningRate
              + ", got "
              + schedule.finalRate());
    }
  }

  /** An optimiser with {@code schedule} and no weight decay. */
  public OptimizerConfig(
      OptimizerType type,
      double learningRate,
      double momentum,
      double beta1,
      double beta2,
      double epsilon,
      double rmsDecay,
      ScheduleConfig schedule) {
    this(
        type,
        learningRate,
        momentum,
        beta1,
        beta2,
        epsilon,
        rmsDecay,
        schedule,
        0.0,
        java.util.List.of());
  }

  /** An optimiser with a constant learning rate. */
  public OptimizerConfig(
      OptimizerType type,
      double learningRate,
      double momentum,
      double beta1,
      double beta2,
      double epsilon,
      double rmsDecay) {
    this(type, learningRate, momentum, beta1, beta2, epsilon, rmsDecay, ScheduleConfig.constant());
  }

  /** The same optimiser with another schedule. */
  public OptimizerConfig withSchedule(ScheduleConfig s) {
    return new OptimizerConfig(
        type,
        learningRate,
        momentum,
        beta1,
        beta2,
        epsilon,
        rmsDecay,
        s,
        weightDecay,
        weightDecayExclude);
  }

  /** The same optimiser with weight decay {@code lambda}, leaving out {@code exclude}. */
  public OptimizerConfig withWeightDecay(double lambda, java.util.List<ParameterGroup> exclude) {
    return new OptimizerConfig(
        type, learningRate, momentum, beta1, beta2, epsilon, rmsDecay, schedule, lambda, exclude);
  }

  /**
   * The optimiser a run applies: the linear scaling rule applied (learningRate and
   * schedule.finalRate multiplied by {@code globalBatch / schedule.referenceBatch}) and {@code
   * schedule.steps: 0} replaced by {@code runSteps - warmupSteps} (at least 1). Unchanged when
   * already resolved.
   *
   * @param globalBatch examples per global step
   * @param runSteps global steps of the whole run ({@code training.epochs * stepsPerEpoch})
   */
  public OptimizerConfig resolve(long globalBatch, long runSteps) {
    ScheduleConfig s = schedule;
    double scale = s.referenceBatch() == 0 ? 1.0 : (double) globalBatch / s.referenceBatch();
    long steps = s.followsRunLength() ? Math.max(1, runSteps - s.warmupSteps()) : s.steps();
    return new OptimizerConfig(
        type,
        learningRate * scale,
        momentum,
        beta1,
        beta2,
        epsilon,
        rmsDecay,
        new ScheduleConfig(
            s.type(),
            steps,
            s.finalRate() * scale,
            s.stepSize(),
            s.gamma(),
            s.warmupSteps(),
            0,
            s.milestones(),
            s.warmupFrom()),
        weightDecay,
        weightDecayExclude);
  }

  public static OptimizerConfig of(OptimizerType type, double learningRate) {
    return new OptimizerConfig(type, learningRate, 0.9, 0.9, 0.999, 1e-8, 0.95);
  }
}
