package io.spindle.driver;

/**
 * Progress the workers reported while a round still runs (the collective engine's long rounds): the
 * global steps since the previous report of the round, over all workers. The round's {@link
 * RoundResult}, at its end, remains the exact record; progress comes before it.
 *
 * @param globalStep global steps done after the last step covered
 * @param stepInEpoch steps of the epoch done after it
 * @param steps steps covered
 * @param examples training examples over them
 * @param correct of those, classified correctly by the model before their update
 * @param lossSum summed loss over the examples
 * @param seconds wall seconds the steps took (the slowest worker's)
 */
public record StepProgress(
    long globalStep,
    int stepInEpoch,
    int steps,
    long examples,
    long correct,
    double lossSum,
    double seconds) {
  public double meanLoss() {
    return examples == 0 ? Double.NaN : lossSum / examples;
  }

  /** Receives progress, on the training loop's thread. */
  @FunctionalInterface
  public interface Sink {
    void accept(StepProgress progress);
  }
}
