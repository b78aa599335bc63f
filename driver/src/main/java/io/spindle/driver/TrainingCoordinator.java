package io.spindle.driver;

import io.spindle.data.MiniBatch;
import io.spindle.sync.Evaluation;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;

/**
 * The one training loop, for every phase of a run (each autoencoder of layer-wise pre-training,
 * then the classifier). Per epoch: the data reshuffles into per-worker mini-batches; the sync
 * strategy runs rounds until the epoch is done (each round applies global steps to the model); the
 * test set is evaluated on the executors. Everything else is a {@link TrainingListener}.
 */
public final class TrainingCoordinator {
  private final EpochSource data;
  private final GlobalModel model;
  private final ParameterSync sync;
  private final Evaluator evaluator;
  private final List<TrainingListener> listeners;
  private final int epochs;
  private final long maxSteps;
  private final int progressEvery;

  /**
   * @param maxSteps stop after this many global steps (0: no limit)
   */
  public TrainingCoordinator(
      EpochSource data,
      GlobalModel model,
      ParameterSync sync,
      Evaluator evaluator,
      List<TrainingListener> listeners,
      int epochs,
      long maxSteps) {
    this(data, model, sync, evaluator, listeners, epochs, maxSteps, 0);
  }

  /**
   * @param maxSteps stop after this many global steps (0: no limit)
   * @param progressEvery ask the sync strategy for progress every this many steps while its rounds
   *     run, passed to the listeners' {@code onProgress} (0, or more than the run's steps: none)
   */
  public TrainingCoordinator(
      EpochSource data,
      GlobalModel model,
      ParameterSync sync,
      Evaluator evaluator,
      List<TrainingListener> listeners,
      int epochs,
      long maxSteps,
      int progressEvery) {
    this.progressEvery = progressEvery;
    this.data = data;
    this.model = model;
    this.sync = sync;
    this.evaluator = evaluator;
    this.listeners = List.copyOf(listeners);
    this.epochs = epochs;
    this.maxSteps = maxSteps == 0 ? Long.MAX_VALUE : maxSteps;
  }

  /**
   * Trains from {@code state}: a fresh one, or one restored from a checkpoint together with the
   * model, in which case the run continues mid-epoch at the state's step.
   */
  public TrainingState fit(TrainingState state) {
    int stepsPerEpoch = data.layout().stepsPerEpoch();
    int first = state.epoch();
    listeners.forEach(l -> l.onStart(model, stepsPerEpoch));
    // no channel when no record could fall inside a round (logEvery beyond the run)
    if (progressEvery > 0 && progressEvery < (long) epochs * stepsPerEpoch) {
      sync.reportProgress(progressEvery, p -> listeners.forEach(l -> l.onProgress(state, p)));
    }
    Evaluation test = null;
    for (int epoch = first; epoch < epochs && state.globalStep() < maxSteps; epoch++) {
      if (epoch > first) {
        state.startEpoch(epoch);
      }
      JavaRDD<MiniBatch> batches = data.epoch(epoch);
      try {
        while (state.stepInEpoch() < stepsPerEpoch && state.globalStep() < maxSteps) {
          int left =
              (int) Math.min(stepsPerEpoch - state.stepInEpoch(), maxSteps - state.globalStep());
          RoundResult round =
              sync.round(batches, state.stepInEpoch(), left, state.globalStep(), model);
          state.advance(round);
          listeners.forEach(l -> l.onRound(state, round));
        }
      } finally {
        data.release(batches);
      }
      test = evaluator.evaluate(model);
      Evaluation epochTest = test;
      listeners.forEach(l -> l.onEpochEnd(state, epochTest));
    }
    if (test == null) {
      test = evaluator.evaluate(model);
    }
    Evaluation finalTest = test;
    listeners.forEach(l -> l.onEnd(state, model, finalTest));
    return state;
  }
}
