package io.spindle.config;

/**
 * The learning-rate schedule ({@code optimizer.schedule}), keyed to the 0-based global step j (the
 * same under every sync strategy and after a resume). {@code a_0} is {@code
 * optimizer.learningRate}; the formulas are in {@code io.spindle.optim.LearningRateSchedule}.
 *
 * @param type constant, linear, step, exponential or cosine
 * @param steps T of linear and cosine, counted after the warm-up (> 0), or 0 for "until the end of
 *     the run": {@code training.epochs * stepsPerEpoch - warmupSteps}
 * @param finalRate {@code a_T} of linear, {@code a_min} of cosine (>= 0; for cosine <= a_0)
 * @param stepSize S of step and exponential (> 0)
 * @param gamma the factor per S steps of step and exponential, in (0, 1]
 * @param warmupSteps W: steps of linear warm-up {@code a_j = a_0 * (j + 1) / W} before the
 *     schedule, which then runs at {@code j - W} (>= 0; 0 = none)
 * @param referenceBatch linear scaling rule: every rate is multiplied by {@code globalBatch /
 *     referenceBatch} (> 0), or 0 = off
 */
public record ScheduleConfig(
    ScheduleType type,
    long steps,
    double finalRate,
    long stepSize,
    double gamma,
    long warmupSteps,
    int referenceBatch)
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
