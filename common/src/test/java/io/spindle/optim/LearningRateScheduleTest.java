package io.spindle.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.ScheduleConfig;
import io.spindle.config.ScheduleType;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Golden values of every schedule, worked out by hand from the formulas (a_0 = 0.1 throughout), and
 * the optimiser taking its rate from the schedule at the global step in both of its forms.
 */
class LearningRateScheduleTest {
  static final double A0 = 0.1;

  static LearningRateSchedule schedule(
      ScheduleType type, long steps, double finalRate, long stepSize, double gamma, long warmup) {
    return LearningRateSchedule.of(optimizer(type, steps, finalRate, stepSize, gamma, warmup));
  }

  static OptimizerConfig optimizer(
      ScheduleType type, long steps, double finalRate, long stepSize, double gamma, long warmup) {
    return OptimizerConfig.of(OptimizerType.SGD, A0)
        .withSchedule(new ScheduleConfig(type, steps, finalRate, stepSize, gamma, warmup, 0));
  }

  @Test
  void constantIsTheLearningRateAtEveryStep() {
    LearningRateSchedule s = LearningRateSchedule.of(OptimizerConfig.of(OptimizerType.SGD, A0));
    assertEquals(0.1, s.rate(0), 0);
    assertEquals(0.1, s.rate(1_000_000), 0);
  }

  @Test
  void linearDecayFollowsTheFormulaAtZeroHalfTTAndTwoT() {
    // a_j = (1 - j/T) a_0 + (j/T) a_T for j <= T, a_T afterwards; a_0 = 0.1, a_T = 0.01, T = 100
    LearningRateSchedule s = schedule(ScheduleType.LINEAR, 100, 0.01, 1, 1, 0);
    assertEquals(0.1, s.rate(0), 1e-15); // j = 0
    assertEquals(0.0775, s.rate(25), 1e-15); // 0.75 * 0.1 + 0.25 * 0.01
    assertEquals(0.055, s.rate(50), 1e-15); // j = T/2: 0.5 * 0.1 + 0.5 * 0.01
    assertEquals(0.01, s.rate(100), 1e-15); // j = T
    assertEquals(0.01, s.rate(200), 1e-15); // j = 2T
    assertEquals(0.01, s.rate(10_000), 1e-15);
  }

  @Test
  void linearDecayCanEndAboveItsStart() {
    LearningRateSchedule s = schedule(ScheduleType.LINEAR, 10, 0.2, 1, 1, 0);
    assertEquals(0.15, s.rate(5), 1e-15);
    assertEquals(0.2, s.rate(20), 1e-15);
  }

  @Test
  void stepMultipliesByGammaEverySSteps() {
    LearningRateSchedule s = schedule(ScheduleType.STEP, 0, 0, 10, 0.5, 0);
    assertEquals(0.1, s.rate(0), 1e-15);
    assertEquals(0.1, s.rate(9), 1e-15);
    assertEquals(0.05, s.rate(10), 1e-15);
    assertEquals(0.025, s.rate(25), 1e-15);
    assertEquals(0.0125, s.rate(30), 1e-15);
  }

  @Test
  void exponentialDecaysSmoothlyOrPerStep() {
    LearningRateSchedule s = schedule(ScheduleType.EXPONENTIAL, 0, 0, 10, 0.5, 0);
    assertEquals(0.1, s.rate(0), 1e-15);
    assertEquals(0.1 / Math.sqrt(2), s.rate(5), 1e-15); // 0.1 * 0.5^(5/10)
    assertEquals(0.05, s.rate(10), 1e-15);
    assertEquals(0.025, s.rate(20), 1e-15);
    LearningRateSchedule perStep = schedule(ScheduleType.EXPONENTIAL, 0, 0, 1, 0.9, 0);
    assertEquals(0.0729, perStep.rate(3), 1e-15); // 0.1 * 0.9^3
  }

  @Test
  void cosineGoesFromA0ToAMinOverTSteps() {
    // a_min + (a_0 - a_min) (1 + cos(pi j / T)) / 2, a_0 = 0.1, a_min = 0.01, T = 100
    LearningRateSchedule s = schedule(ScheduleType.COSINE, 100, 0.01, 1, 1, 0);
    assertEquals(0.1, s.rate(0), 1e-15);
    // cos(pi/4) = sqrt(2)/2: 0.01 + 0.09 * (1 + 0.70710678...) / 2
    assertEquals(0.01 + 0.09 * (1 + Math.sqrt(0.5)) / 2, s.rate(25), 1e-15);
    assertEquals(0.055, s.rate(50), 1e-15);
    assertEquals(0.01 + 0.09 * (1 - Math.sqrt(0.5)) / 2, s.rate(75), 1e-15);
    assertEquals(0.01, s.rate(100), 1e-15);
    assertEquals(0.01, s.rate(200), 1e-15);
  }

  @Test
  void warmUpRisesLinearlyToA0ThenTheScheduleStartsFromItsBeginning() {
    // W = 4: a_j = a_0 (j + 1) / 4 for j < 4; then linear over T = 100 at i = j - 4
    LearningRateSchedule s = schedule(ScheduleType.LINEAR, 100, 0.01, 1, 1, 4);
    assertEquals(0.025, s.rate(0), 1e-15);
    assertEquals(0.05, s.rate(1), 1e-15);
    assertEquals(0.075, s.rate(2), 1e-15);
    assertEquals(0.1, s.rate(3), 1e-15);
    assertEquals(0.1, s.rate(4), 1e-15); // i = 0
    assertEquals(0.055, s.rate(54), 1e-15); // i = T/2
    assertEquals(0.01, s.rate(104), 1e-15); // i = T
    assertEquals(0.01, s.rate(204), 1e-15); // i = 2T
    LearningRateSchedule constant = schedule(ScheduleType.CONSTANT, 0, 0, 1, 1, 10);
    assertEquals(0.01, constant.rate(0), 1e-15);
    assertEquals(0.1, constant.rate(9), 1e-15);
    assertEquals(0.1, constant.rate(500), 1e-15);
    LearningRateSchedule step = schedule(ScheduleType.STEP, 0, 0, 10, 0.5, 10);
    assertEquals(0.1, step.rate(19), 1e-15);
    assertEquals(0.05, step.rate(20), 1e-15);
  }

  @Test
  void resolveAppliesTheLinearScalingRuleAndStretchesStepsZeroOverTheRun() {
    OptimizerConfig c =
        OptimizerConfig.of(OptimizerType.ADAM, 0.1)
            .withSchedule(new ScheduleConfig(ScheduleType.LINEAR, 0, 0.01, 1, 1, 100, 256));
    assertThrows(IllegalArgumentException.class, () -> LearningRateSchedule.of(c));
    OptimizerConfig r = c.resolve(512, 1000);
    assertEquals(0.2, r.learningRate(), 1e-15); // 0.1 * 512 / 256
    assertEquals(0.02, r.schedule().finalRate(), 1e-15);
    assertEquals(900, r.schedule().steps()); // 1000 run steps - 100 warm-up steps
    assertEquals(0, r.schedule().referenceBatch());
    LearningRateSchedule s = LearningRateSchedule.of(r);
    assertEquals(0.002, s.rate(0), 1e-15); // warm-up: 0.2 * 1 / 100
    assertEquals(0.11, s.rate(100 + 450), 1e-15); // halfway: (0.2 + 0.02) / 2
    assertEquals(0.02, s.rate(1000), 1e-15);
    // an explicit T and no scaling: nothing to resolve
    OptimizerConfig fixed = optimizer(ScheduleType.COSINE, 50, 0.0, 1, 1, 0);
    assertEquals(fixed, fixed.resolve(512, 1000));
  }

  @Test
  void refusesANegativeStep() {
    LearningRateSchedule s = schedule(ScheduleType.CONSTANT, 0, 0, 1, 1, 0);
    assertThrows(IllegalArgumentException.class, () -> s.rate(-1));
  }

  /** SGD and momentum with a_0 = 0.1, a_1 = 0.05 (linear to 0 over T = 2), by hand. */
  @Test
  void theOptimiserStepsWithTheScheduleRateOfTheGlobalStepInBothForms() {
    // w0 - 0.1 g1 - 0.05 g2 = [0.5 - 0.01 + 0.0025, -1 + 0.02 - 0.02, 2 - 0.03 - 0.005]
    assertTwoSteps(new double[] {0.4925, -1.0, 1.965}, linearToZeroOverTwoSteps(OptimizerType.SGD));
    // v1 = -0.1 g1 = [-0.01, 0.02, -0.03]; v2 = 0.9 v1 - 0.05 g2 = [-0.0065, -0.002, -0.032]
    assertTwoSteps(
        new double[] {0.4835, -0.982, 1.938}, linearToZeroOverTwoSteps(OptimizerType.MOMENTUM));
    // Adam from Kingma and Ba's formulas in plain Python floats, lr 0.1 then 0.05
    OptimizerConfig adam = linearToZeroOverTwoSteps(OptimizerType.ADAM);
    assertTwoSteps(
        new double[] {0.3866831597016949, -0.9183051807730183, 1.8564468077452645}, adam);
    FlatOptimizer opt = FlatOptimizer.create(adam, 3, DataType.DOUBLE);
    assertEquals(0.1, opt.learningRate(0), 1e-15);
    assertEquals(0.05, opt.learningRate(1), 1e-15);
    assertEquals(0.0, opt.learningRate(2), 1e-15);
  }

  /** Default settings, a_0 = 0.1 decaying linearly to 0 over T = 2 steps. */
  static OptimizerConfig linearToZeroOverTwoSteps(OptimizerType type) {
    return OptimizerConfig.of(type, A0)
        .withSchedule(new ScheduleConfig(ScheduleType.LINEAR, 2, 0.0, 1, 1, 0, 0));
  }

  /** Both optimiser forms (ND4J arrays in float64, fused float32 loop) give {@code expected}. */
  static void assertTwoSteps(double[] expected, OptimizerConfig c) {
    assertArrayEquals(expected, twoStepsNd4j(c), 1e-12);
    assertArrayEquals(expected, twoStepsFused(c), 1e-6);
  }

  @Test
  void anUnresolvedScheduleCannotBuildAnOptimiser() {
    OptimizerConfig c = optimizer(ScheduleType.COSINE, 0, 0.0, 1, 1, 0);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> FlatOptimizer.create(c, 3, DataType.FLOAT));
    assertTrue(e.getMessage().contains("OptimizerConfig.resolve"), e.getMessage());
  }

  static double[] twoStepsNd4j(OptimizerConfig c) {
    FlatOptimizer opt = FlatOptimizer.create(c, 3, DataType.DOUBLE);
    INDArray w = Nd4j.createFromArray(FlatOptimizerTest.W0);
    opt.step(w, Nd4j.createFromArray(FlatOptimizerTest.G1), 0);
    opt.step(w, Nd4j.createFromArray(FlatOptimizerTest.G2), 1);
    return w.toDoubleVector();
  }

  static double[] twoStepsFused(OptimizerConfig c) {
    FlatOptimizer opt = FlatOptimizer.create(c, 3, DataType.FLOAT);
    float[] w = floats(FlatOptimizerTest.W0);
    opt.step(w, 0, floats(FlatOptimizerTest.G1), 0, 0);
    opt.step(w, 0, floats(FlatOptimizerTest.G2), 0, 1);
    double[] out = new double[3];
    for (int i = 0; i < 3; i++) {
      out[i] = w[i];
    }
    return out;
  }

  static float[] floats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  @Test
  void multistepDividesAtEachMilestoneCountedFromStepZero() {
    // He et al.: 0.1, divided by 10 at 32k and 48k iterations, with a warm-up of 5 steps that
    // counts towards the milestones
    LearningRateSchedule s =
        LearningRateSchedule.of(
            OptimizerConfig.of(OptimizerType.SGD, A0)
                .withSchedule(
                    io.spindle.config.ScheduleConfig.multistep(
                        java.util.List.of(32000L, 48000L), 0.1, 5, 0.0)));
    assertEquals(A0 / 5, s.rate(0), 1e-15);
    assertEquals(A0, s.rate(4), 1e-15);
    assertEquals(A0, s.rate(5), 0);
    assertEquals(A0, s.rate(31999), 0);
    assertEquals(A0 * 0.1, s.rate(32000), 1e-15);
    assertEquals(A0 * 0.1, s.rate(47999), 1e-15);
    assertEquals(A0 * 0.01, s.rate(48000), 1e-15);
    assertEquals(A0 * 0.01, s.rate(64000), 1e-15);
  }

  @Test
  void warmupFromAStartRateRampsLinearlyAndIsNotScaledByTheBatch() {
    // Goyal et al.: from 0.1 to 0.1 x 8192 / 256 = 3.2 over 785 steps, divided by 10 at epochs
    // 30, 60, 80 of 157 steps
    OptimizerConfig goyal =
        OptimizerConfig.of(OptimizerType.MOMENTUM, 0.1)
            .withSchedule(
                new io.spindle.config.ScheduleConfig(
                    ScheduleType.MULTISTEP,
                    0,
                    0.0,
                    1000,
                    0.1,
                    785,
                    256,
                    java.util.List.of(4710L, 9420L, 12560L),
                    0.1));
    LearningRateSchedule s = LearningRateSchedule.of(goyal.resolve(8192, 90 * 157));
    assertEquals(0.1 + 3.1 / 785, s.rate(0), 1e-12);
    assertEquals(0.1 + 3.1 * 393 / 785, s.rate(392), 1e-12);
    assertEquals(3.2, s.rate(784), 1e-12);
    assertEquals(3.2, s.rate(4709), 1e-12);
    assertEquals(0.32, s.rate(4710), 1e-12);
    assertEquals(0.032, s.rate(9420), 1e-12);
    assertEquals(0.0032, s.rate(12560), 1e-12);
    for (long j = 1; j < 785; j++) {
      assertEquals(3.1 / 785, s.rate(j) - s.rate(j - 1), 1e-12, "a straight line at " + j);
    }
  }
}
