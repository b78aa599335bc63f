package io.spindle.driver;

/**
 * Runtime counters of a run (never part of the config): where the run is and what it has seen.
 * Mutated only by the training loop.
 */
public final class TrainingState {
  private int epoch;
  private int stepInEpoch;
  private long globalStep;
  private long examplesSeen;
  private final long startNanos = System.nanoTime();

  public int epoch() {
    return epoch;
  }

  public int stepInEpoch() {
    return stepInEpoch;
  }

  public long globalStep() {
    return globalStep;
  }

  public long examplesSeen() {
    return examplesSeen;
  }

  public double wallSeconds() {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  void startEpoch(int epoch) {
    this.epoch = epoch;
    this.stepInEpoch = 0;
  }

  void advance(RoundResult round) {
    stepInEpoch += round.steps();
    globalStep += round.steps();
    examplesSeen += round.examples();
  }
}
