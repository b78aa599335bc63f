package io.spindle.driver;

import io.spindle.sync.Evaluation;

/**
 * A side concern of training (progress, metrics, divergence checks, saving). The coordinator calls,
 * in order: {@code onStart} once, {@code onProgress} while a round runs (when its strategy reports
 * progress), {@code onRound} after every sync round, {@code onEpochEnd} after every epoch's
 * evaluation, {@code onEnd} once when training finished normally. A listener may throw to stop the
 * run.
 */
public interface TrainingListener {
  default void onStart(GlobalModel model, int stepsPerEpoch) {}

  default void onRound(TrainingState state, RoundResult round) {}

  /**
   * Progress reported while a round runs (every {@code logEvery} steps, by strategies whose rounds
   * span many steps); {@code state} is still at the round's start. Called on the loop's thread,
   * before the round's {@code onRound}, whose result includes these steps.
   */
  default void onProgress(TrainingState state, StepProgress progress) {}

  default void onEpochEnd(TrainingState state, Evaluation test) {}

  default void onEnd(TrainingState state, GlobalModel model, Evaluation test) {}
}
