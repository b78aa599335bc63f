package io.spindle.config;

/**
 * The learning-rate schedule ({@code optimizer.schedule}), keyed to the 0-based global step j (the
 * same under every sync strategy and after a resume). {@code a_0} is {@code
 * optimizer.learningRate}; the formulas are in {@code io.spindle.optim.LearningRateSchedule}.
 *
 * @param type constant, linear, step, multistep, exponential or cosine
 * @param steps T of linear and cosine, counted after the warm-up (> 0), or 0 for "until the end of
 *     the run": {@code training.epochs * stepsPerEpoch - warmupSteps}
 * @param finalRate {@code a_T} of linear, {@code a_min} of cosine (>= 0; for cosine <= a_0)
 * @param stepSize S of step and exponential (> 0)
 * @param gamma the factor per S steps of step and exponential, in (0, 1]
 * @param warmupSteps W: steps of linear warm-up {@code a_j = a_s + (a_0 - a_s) * (j + 1) / W}
 *     before the schedule, which then runs at {@code j - W} (>= 0; 0 = none)
 * @param referenceBatch linear scaling rule: every rate is multiplied by {@code globalBatch /
 *     referenceBatch} (> 0), or 0 = off
 * @param milestones the global steps at which multistep multiplies the rate by gamma, strictly
 *     ascending and > 0; counted from step 0, warm-up included (He et al.: [32000, 48000]); only
 *     for multistep, which needs at least one (absent = empty)
 * @param warmupFrom {@code a_s}, the rate the warm-up starts from (>= 0; 0 = from nothing, the
 *     first step using {@code a_0 / W}); not multiplied by the linear scaling rule, as Goyal et
 *     al.'s warm-up starts from the reference batch's rate (0.1) towards the scaled one (3.2)
 */
public record ScheduleConfig(
    ScheduleType type,
    long steps,
    double finalRate,
    long stepSize,
    double gamma,
    long warmupSteps,
    int referenceBatch,
    java.util.List<Long> milestones,
    double warmupFrom)
    implements java.io.Serializable {
  public ScheduleConfig {
    Check.notNull("type", type);
    Check.nonNegative("steps", steps);
    Check.nonNegative("finalRate", finalRate);
    Check.positive("stepSize", stepSize);
    if (!(gamma > 0 && gamma <= 1)) {
      throw new ConfigException("gamma must be in (0, 1], got " + gamma);
    }
    Check.nonNegative("warmupSteps", warmupSteps);
    Check.nonNegative("referenceBatch", referenceBatch);
    milestones = milestones == null ? java.util.List.of() : java.util.List.copyOf(milestones);
    if (type == ScheduleType.MULTISTEP && milestones.isEmpty()) {
      throw new ConfigException(
          "milestones must list at least one global step for type multistep, got []");
    }
    if (type != ScheduleType.MULTISTEP && !milestones.isEmpty()) {
      throw new ConfigException(
          "milestones applies to type multistep only, got "
              + milestones
              + " with type "
              + type.configName());
    }
    for (int i = 0; i < milestones.size(); i++) {
      long m = milestones.get(i);
      if (m <= 0 || (i > 0 && m <= milestones.get(i - 1))) {
        throw new ConfigException(
            "milestones must be global steps > 0 in strictly ascending order, got " + milestones);
      }
    }
    Check.nonNegative("warmupFrom", warmupFrom);
    if (warmupFrom > 0 && warmupSteps == 0) {
      throw new ConfigException(
          "warmupFrom " + warmupFrom + " needs warmupSteps > 0, got warmupSteps 0");
    }
  }

  /** A schedule without milestones and with warm-up from nothing. */
  public ScheduleConfig(
      ScheduleType type,
      long steps,
      double finalRate,
      long stepSize,
      double gamma,
      long warmupSteps,
      int referenceBatch) {
    this(
        type,
        steps,
        finalRate,
        stepSize,
        gamma,
        warmupSteps,
        referenceBatch,
        java.util.List.of(),
        0.0);
  }

  /**
   * Multiplied by {@code gamma} at each of {@code milestones} (global steps), after {@code
   * warmupSteps} of warm-up from {@code warmupFrom}.
   */
  public static ScheduleConfig multistep(
      java.util.List<Long> milestones, double gamma, long warmupSteps, double warmupFrom) {
    return new ScheduleConfig(
        ScheduleType.MULTISTEP, 0, 0.0, 1000, gamma, warmupSteps, 0, milestones, warmupFrom);
  }

  /** No schedule: the learning rate is {@code optimizer.learningRate} at every step. */
  public static ScheduleConfig constant() {
    return new ScheduleConfig(ScheduleType.CONSTANT, 0, 0.0, 1000, 0.1, 0, 0);
  }

  /** True when {@code steps} is 0 and the type needs T, so T follows the run's length. */
  public boolean followsRunLength() {
    return steps == 0 && (type == ScheduleType.LINEAR || type == ScheduleType.COSINE);
  }

  /** True when nothing is left to resolve: T is known and the batch scaling is applied. */
  public boolean isResolved() {
    return !followsRunLength() && referenceBatch == 0;
  }
}
