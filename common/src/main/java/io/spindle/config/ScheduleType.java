package io.spindle.config;

/**
 * The shape of the learning-rate schedule; see {@code io.spindle.optim.LearningRateSchedule} for
 * the formulas.
 */
public enum ScheduleType implements ConfigEnum {
  /** {@code a_j = a_0}. */
  CONSTANT,
  /** From {@code a_0} to {@code a_T} in a straight line over T steps, then {@code a_T}. */
  LINEAR,
  /** {@code a_0} multiplied by gamma every S steps. */
  STEP,
  /**
   * {@code a_0} multiplied by gamma at each milestone (a global step, warm-up included): He et
   * al.'s lr/10 at 32k and 48k iterations, Goyal et al.'s at epochs 30, 60 and 80.
   */
  MULTISTEP,
  /** {@code a_0 * gamma^(j / S)}, smooth (S = 1: multiplied by gamma every step). */
  EXPONENTIAL,
  /** Half a cosine from {@code a_0} down to {@code a_min} over T steps, then {@code a_min}. */
  COSINE
}
