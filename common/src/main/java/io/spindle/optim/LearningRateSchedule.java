package io.spindle.optim;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.ScheduleConfig;

/**
 * The learning rate as a pure function of the 0-based global step j: the step that applies the j-th
 * global update uses {@code rate(j)}. Being a function of the global step only, it is the same
 * under every sync strategy (the driver's step, parameter averaging's local steps and the
 * collective engine's shards all pass the global step) and continues exactly after a resume.
 *
 * <p>With {@code a_0} = {@code optimizer.learningRate}, W = {@code warmupSteps}, T = {@code steps},
 * S = {@code stepSize}, gamma, {@code a_T} = {@code a_min} = {@code finalRate}:
 *
 * <ul>
 *   <li>warm-up, for j &lt; W: {@code a_j = a_s + (a_0 - a_s) * (j + 1) / W} with {@code a_s} =
 *       {@code warmupFrom} (0 by default; the last warm-up step uses a_0); for j &gt;= W the
 *       schedule below runs at {@code i = j - W}
 *   <li>constant: {@code a_0}
 *   <li>linear: {@code (1 - i/T) * a_0 + (i/T) * a_T} for i &lt;= T, {@code a_T} afterwards
 *   <li>step: {@code a_0 * gamma^floor(i / S)}
 *   <li>multistep: {@code a_0 * gamma^m} with m the number of milestones {@code <= j} (the
 *       milestones are global steps counted from 0, warm-up included, as the papers count them)
 *   <li>exponential: {@code a_0 * gamma^(i / S)} (real exponent; S = 1 decays every step)
 *   <li>cosine: {@code a_min + (a_0 - a_min) * (1 + cos(pi * i / T)) / 2} for i &lt;= T, {@code
 *       a_min} afterwards
 * </ul>
 *
 * The linear scaling rule ({@code referenceBatch}) is applied by {@link OptimizerConfig#resolve},
 * which multiplies a_0 and a_T by {@code globalBatch / referenceBatch}; a schedule is built only
 * from a resolved config.
 */
public final class LearningRateSchedule implements java.io.Serializable {
  private final double base;
  private final ScheduleConfig s;

  private LearningRateSchedule(double base, ScheduleConfig s) {
    this.base = base;
    this.s = s;
  }

  /**
   * The schedule of {@code config}; throws if {@code config} still needs {@link
   * OptimizerConfig#resolve} (a schedule that follows the run's length, or the linear scaling
   * rule).
   */
  public static LearningRateSchedule of(OptimizerConfig config) {
    if (!config.schedule().isResolved()) {
      throw new IllegalArgumentException(
          "optimizer.schedule needs the run's global batch and length (steps: 0 or"
              + " referenceBatch > 0); build the optimiser from OptimizerConfig.resolve(...), got "
              + config.schedule());
    }
    return new LearningRateSchedule(config.learningRate(), config.schedule());
  }

  /** The learning rate of 0-based global step {@code j}. */
  public double rate(long j) {
    if (j < 0) {
      throw new IllegalArgumentException("the global step must be >= 0, got " + j);
    }
    long w = s.warmupSteps();
    if (j < w) {
      double from = s.warmupFrom();
      return from + (base - from) * (j + 1) / w;
    }
    long i = j - w;
    return switch (s.type()) {
      case CONSTANT -> base;
      case LINEAR -> {
        if (i >= s.steps()) {
          yield s.finalRate();
        }
        double f = (double) i / s.steps();
        yield (1 - f) * base + f * s.finalRate();
      }
      case STEP -> base * Math.pow(s.gamma(), i / s.stepSize());
      case MULTISTEP -> {
        int m = 0;
        while (m < s.milestones().size() && s.milestones().get(m) <= j) {
          m++;
        }
        yield base * Math.pow(s.gamma(), m);
      }
      case EXPONENTIAL -> base * Math.pow(s.gamma(), (double) i / s.stepSize());
      case COSINE -> {
        if (i >= s.steps()) {
          yield s.finalRate();
        }
        double f = (double) i / s.steps();
        yield s.finalRate() + (base - s.finalRate()) * (1 + Math.cos(Math.PI * f)) / 2;
      }
    };
  }
}
