package io.spindle.driver.listen;

import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import io.spindle.driver.TrainingDivergedException;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingState;

/**
 * Stops the run as soon as a round's training loss is NaN or infinite, or a gradient made a
 * parameter NaN or infinite (a finite loss can still come with a non-finite gradient). Registered
 * first, so no later listener (checkpoints in particular) sees a diverged state.
 */
public final class DivergenceGuard implements TrainingListener {
  private GlobalModel model;

  @Override
  public void onStart(GlobalModel model, int stepsPerEpoch) {
    this.model = model;
  }

  @Override
  public void onRound(TrainingState state, RoundResult round) {
    String what = null;
    if (!Double.isFinite(round.meanLoss())) {
      what = "training loss is " + round.meanLoss();
    } else if (model != null && !Double.isFinite(model.params().sumNumber().doubleValue())) {
      // one vectorised pass: a NaN or infinity anywhere makes the sum non-finite (so would
      // parameters summing past the float range, which is divergence too)
      what = "a gradient made the parameters NaN or infinite";
    }
    if (what != null) {
      throw new TrainingDivergedException(
          what
              + " at global step "
              + state.globalStep()
              + " (epoch "
              + (state.epoch() + 1)
              + "); the last good checkpoint is kept; try a lower optimizer.learningRate, or"
              + " check the data for NaN values");
    }
  }
}
