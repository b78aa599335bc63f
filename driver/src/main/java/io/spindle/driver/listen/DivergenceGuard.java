package io.spindle.driver.listen;

import io.spindle.driver.RoundResult;
import io.spindle.driver.TrainingDivergedException;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingState;

/** Stops the run as soon as a round's training loss is NaN or infinite. */
public final class DivergenceGuard implements TrainingListener {
  @Override
  public void onRound(TrainingState state, RoundResult round) {
    if (!Double.isFinite(round.meanLoss())) {
      throw new TrainingDivergedException(
          "training loss is "
              + round.meanLoss()
              + " at global step "
              + state.globalStep()
              + " (epoch "
              + (state.epoch() + 1)
              + "); try a lower optimizer.learningRate, or check the data for NaN values");
    }
  }
}
