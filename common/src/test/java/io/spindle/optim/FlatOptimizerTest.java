package io.spindle.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Golden values after two steps for each optimiser. The expected numbers were computed
 * independently (plain Python floats) from the formulas in FlatOptimizer's Javadoc, with w0 = [0.5,
 * -1, 2], g1 = [0.1, -0.2, 0.3], g2 = [-0.05, 0.4, 0.1], lr 0.1, mu 0.9, rho 0.95, b1 0.9, b2
 * 0.999, eps 1e-8.
 */
class FlatOptimizerTest {
  static final double[] W0 = {0.5, -1.0, 2.0};
  static final double[] G1 = {0.1, -0.2, 0.3};
  static final double[] G2 = {-0.05, 0.4, 0.1};

  static Stream<Arguments> golden() {
    return Stream.of(
        Arguments.of(OptimizerType.SGD, new double[] {0.495, -1.02, 1.96}),
        Arguments.of(OptimizerType.MOMENTUM, new double[] {0.486, -1.002, 1.933}),
        Arguments.of(OptimizerType.NESTEROV, new double[] {0.4824, -1.0218, 1.8997}),
        Arguments.of(
            OptimizerType.ADAGRAD,
            new double[] {0.44472136554999514, -0.9894427220999914, 1.8683772277316495}),
        Arguments.of(
            OptimizerType.RMSPROP,
            new double[] {0.2569106663985849, -0.9548015901996681, 1.40807157105062}),
        Arguments.of(
            OptimizerType.ADAM,
            new double[] {0.37336630940339083, -0.9366103565460369, 1.8128936121571957}));
  }

  static OptimizerConfig config(OptimizerType type) {
    return new OptimizerConfig(type, 0.1, 0.9, 0.9, 0.999, 1e-8, 0.95);
  }

  static INDArray twoSteps(FlatOptimizer opt, DataType type) {
    INDArray w = Nd4j.createFromArray(W0).castTo(type);
    opt.step(w, Nd4j.createFromArray(G1).castTo(type), 0);
    opt.step(w, Nd4j.createFromArray(G2).castTo(type), 1);
    return w;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("golden")
  void goldenValuesAfterTwoStepsInFloat64(OptimizerType type, double[] expected) {
    FlatOptimizer opt = FlatOptimizer.create(config(type), 3, DataType.DOUBLE);
    assertArrayEquals(expected, twoSteps(opt, DataType.DOUBLE).toDoubleVector(), 1e-12);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("golden")
  void goldenValuesAfterTwoStepsInFloat32(OptimizerType type, double[] expected) {
    FlatOptimizer opt = FlatOptimizer.create(config(type), 3, DataType.FLOAT);
    assertArrayEquals(expected, twoSteps(opt, DataType.FLOAT).toDoubleVector(), 1e-6);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("golden")
  void fusedFloat32StepGivesTheGoldenValuesAtAnOffset(OptimizerType type, double[] expected) {
    FlatOptimizer opt = FlatOptimizer.create(config(type), 3, DataType.FLOAT);
    float[] params = {9f, 9f, (float) W0[0], (float) W0[1], (float) W0[2], 9f};
    float[] g1 = {(float) G1[0], (float) G1[1], (float) G1[2]};
    float[] g2 = {7f, (float) G2[0], (float) G2[1], (float) G2[2]};
    opt.step(params, 2, g1, 0, 0);
    opt.step(params, 2, g2, 1, 1);
    for (int i = 0; i < 3; i++) {
      assertEquals(expected[i], params[2 + i], 1e-6, "parameter " + i);
    }
    assertEquals(9f, params[0]);
    assertEquals(9f, params[1]);
    assertEquals(9f, params[5]);
    assertEquals(7f, g2[0]);
    assertEquals((float) G2[0], g2[1], "the gradient is not modified");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("golden")
  void fusedAndNd4jStepsShareTheState(OptimizerType type, double[] expected) {
    // step 1 fused, step 2 on ND4J arrays, then the state read back and used by a fresh optimiser
    FlatOptimizer opt = FlatOptimizer.create(config(type), 3, DataType.FLOAT);
    float[] params = {(float) W0[0], (float) W0[1], (float) W0[2]};
    opt.step(params, 0, new float[] {(float) G1[0], (float) G1[1], (float) G1[2]}, 0, 0);
    INDArray w = Nd4j.createFromArray(params);
    FlatOptimizer copy = FlatOptimizer.create(config(type), 3, DataType.FLOAT);
    copy.setState(opt.state().dup());
    copy.step(w, Nd4j.createFromArray(G2).castTo(DataType.FLOAT), 1);
    assertArrayEquals(expected, w.toDoubleVector(), 1e-6);
  }

  @Test
  void fusedStepRefusesArraysTooShortAndFloat64() {
    FlatOptimizer opt = FlatOptimizer.create(config(OptimizerType.ADAM), 3, DataType.FLOAT);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> opt.step(new float[4], 2, new float[3], 0, 0));
    assertTrue(e.getMessage().contains("params[2...] of 4"), e.getMessage());
    FlatOptimizer f64 = FlatOptimizer.create(config(OptimizerType.ADAM), 3, DataType.DOUBLE);
    assertThrows(IllegalStateException.class, () -> f64.step(new float[3], 0, new float[3], 0, 0));
  }

  @Test
  void adamStateIsFirstThenSecondMoment() {
    FlatOptimizer opt = FlatOptimizer.create(config(OptimizerType.ADAM), 3, DataType.DOUBLE);
    twoSteps(opt, DataType.DOUBLE);
    assertArrayEquals(
        new double[] {
          0.004, 0.021999999999999995, 0.03699999999999999,
          1.2490000000000014e-05, 0.00019996000000000022, 9.991000000000009e-05
        },
        opt.state().toDoubleVector(),
        1e-15);
  }

  @Test
  void stateMultipliers() {
    assertEquals(0, FlatOptimizer.stateMultiplier(OptimizerType.SGD));
    assertEquals(1, FlatOptimizer.stateMultiplier(OptimizerType.MOMENTUM));
    assertEquals(1, FlatOptimizer.stateMultiplier(OptimizerType.NESTEROV));
    assertEquals(1, FlatOptimizer.stateMultiplier(OptimizerType.ADAGRAD));
    assertEquals(1, FlatOptimizer.stateMultiplier(OptimizerType.RMSPROP));
    assertEquals(2, FlatOptimizer.stateMultiplier(OptimizerType.ADAM));
  }

  @Test
  void stateRoundTripResumesTheSameTrajectory() {
    FlatOptimizer a = FlatOptimizer.create(config(OptimizerType.ADAM), 3, DataType.DOUBLE);
    INDArray w = Nd4j.createFromArray(W0);
    a.step(w, Nd4j.createFromArray(G1), 0);
    FlatOptimizer b = FlatOptimizer.create(config(OptimizerType.ADAM), 3, DataType.DOUBLE);
    b.setState(a.state().dup());
    INDArray wb = w.dup();
    a.step(w, Nd4j.createFromArray(G2), 1);
    b.step(wb, Nd4j.createFromArray(G2), 1);
    assertArrayEquals(w.toDoubleVector(), wb.toDoubleVector(), 0.0);
  }

  @Test
  void gradientIsNotModified() {
    for (OptimizerType type : OptimizerType.values()) {
      FlatOptimizer opt = FlatOptimizer.create(config(type), 3, DataType.DOUBLE);
      INDArray g = Nd4j.createFromArray(G1);
      opt.step(Nd4j.createFromArray(W0), g, 0);
      assertArrayEquals(G1, g.toDoubleVector(), 0.0, type.toString());
    }
  }

  @Test
  void mismatchedShapesAreRefusedWithExpectedAndFound() {
    FlatOptimizer opt = FlatOptimizer.create(config(OptimizerType.ADAM), 3, DataType.DOUBLE);
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> opt.step(Nd4j.createFromArray(W0), Nd4j.zeros(DataType.DOUBLE, 4), 0));
    assertTrue(e.getMessage().contains("gradient has 4 elements, expected 3"), e.getMessage());
    var s =
        assertThrows(
            IllegalArgumentException.class, () -> opt.setState(Nd4j.zeros(DataType.DOUBLE, 3)));
    assertTrue(s.getMessage().contains("3 elements, expected 6"), s.getMessage());
  }
}
