package io.spindle.driver;

import java.util.List;

/**
 * One phase of a run, everything the {@link TrainingCoordinator} trains: the classifier, or one
 * autoencoder of layer-wise pre-training. Every phase runs through the same loop with the run's
 * listeners (divergence check, metrics and progress, checkpoints into its own directory) and
 * resumes from its own checkpoints.
 *
 * @param name a stable id: {@code train}, or {@code pretrain-layer-K}; names the phase's records in
 *     metrics.jsonl and its checkpoint directory
 * @param label what the phase's progress lines begin with ("" for training)
 * @param model the model it trains, with its own optimiser state
 * @param data its epochs' per-worker mini-batches
 * @param evaluator its test-set evaluation after every epoch
 * @param epochs epochs to train
 * @param maxSteps stop after this many global steps (0: no limit)
 * @param listeners the phase's own listeners, called after the run's
 */
public record TrainingPhase(
    String name,
    String label,
    GlobalModel model,
    EpochSource data,
    Evaluator evaluator,
    int epochs,
    long maxSteps,
    List<TrainingListener> listeners) {
  public static final String TRAINING = "train";

  public TrainingPhase {
    listeners = List.copyOf(listeners);
  }

  /** Global steps of the whole phase (without {@code maxSteps}). */
  public long totalSteps() {
    return (long) epochs * data.layout().stepsPerEpoch();
  }

  /** Runs a phase through the training loop; returns its end state. */
  @FunctionalInterface
  public interface Runner {
    TrainingState run(TrainingPhase phase);
  }
}
