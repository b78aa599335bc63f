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
  private long examplesBefore;
  private final long startNanos = System.nanoTime();

  /** A fresh run: epoch 0, step 0. */
  public TrainingState() {}

  /**
   * A resumed run's counters: the next step to run is {@code stepInEpoch} of {@code epoch} (equal
   * to the epoch's step count when only its evaluation is left).
   */
  public static TrainingState resumedAt(
      int epoch, int stepInEpoch, long globalStep, long examplesSeen) {
    if (epoch < 0 || stepInEpoch < 0 || globalStep < 0 || examplesSeen < 0) {
      throw new IllegalArgumentException(
          "counters must be >= 0, got epoch "
              + epoch
              + ", stepInEpoch "
              + stepInEpoch
              + ", globalStep "
              + globalStep
              + ", examplesSeen "
              + examplesSeen);
    }
    TrainingState s = new TrainingState();
    s.epoch = epoch;
    s.stepInEpoch = stepInEpoch;
    s.globalStep = globalStep;
    s.examplesSeen = examplesSeen;
    s.examplesBefore = examplesSeen;
    return s;
  }

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

  /** Examples seen by this process (a resumed run excludes those before its checkpoint). */
  public long examplesThisRun() {
    return examplesSeen - examplesBefore;
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
