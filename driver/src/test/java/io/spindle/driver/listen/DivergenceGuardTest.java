package io.spindle.driver.listen;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.SpindleConfig;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import io.spindle.driver.TrainingDivergedException;
import io.spindle.driver.TrainingState;
import io.spindle.worker.ModelSpec;
import org.junit.jupiter.api.Test;

/** The guard stops on a non-finite loss and on non-finite parameters behind a finite loss. */
class DivergenceGuardTest {
  private static GlobalModel model() {
    SpindleConfig c = SpindleConfig.defaults();
    return new GlobalModel(new ModelSpec(c.model(), c.optimizer(), 20, 10, 42, 1));
  }

  @Test
  void finiteLossAndParametersPass() {
    DivergenceGuard guard = new DivergenceGuard();
    guard.onStart(model(), 10);
    assertDoesNotThrow(
        () -> guard.onRound(new TrainingState(), new RoundResult(1, 10, 5, 0.7, 0.01)));
  }

  @Test
  void nonFiniteLossStops() {
    DivergenceGuard guard = new DivergenceGuard();
    guard.onStart(model(), 10);
    TrainingDivergedException e =
        assertThrows(
            TrainingDivergedException.class,
            () ->
                guard.onRound(
                    new TrainingState(), new RoundResult(1, 10, 5, Double.POSITIVE_INFINITY, 0)));
    assertTrue(e.getMessage().contains("training loss is Infinity"), e.getMessage());
  }

  @Test
  void nonFiniteParameterBehindAFiniteLossStops() {
    GlobalModel m = model();
    DivergenceGuard guard = new DivergenceGuard();
    guard.onStart(m, 10);
    m.params().putScalar(123, Float.NaN);
    TrainingDivergedException e =
        assertThrows(
            TrainingDivergedException.class,
            () -> guard.onRound(new TrainingState(), new RoundResult(1, 10, 5, 0.7, 0.01)));
    assertTrue(e.getMessage().contains("parameters NaN or infinite"), e.getMessage());
  }
}
