package io.spindle.config;

/**
 * The schedule of the run.
 *
 * @param epochs passes over the training set (> 0)
 * @param batchSize the global mini-batch size, split over all workers every step (> 0), or 0 for
 *     full-batch gradient descent (the whole training set every step, one step per epoch); 1 is
 *     online learning
 * @param seed seeds initialisation, the per-epoch shuffle and dropout
 * @param logEvery write a step record to the console and metrics.jsonl every N steps (> 0)
 * @param maxSteps stop after this many global steps (0 = no limit)
 */
public record TrainingConfig(int epochs, int batchSize, long seed, int logEvery, long maxSteps)
    implements java.io.Serializable {
  public TrainingConfig {
    Check.positive("epochs", epochs);
    Check.nonNegative("batchSize", batchSize);
    Check.positive("logEvery", logEvery);
    Check.nonNegative("maxSteps", maxSteps);
  }

  /** True for full-batch gradient descent ({@code batchSize: 0}). */
  public boolean fullBatch() {
    return batchSize == 0;
  }
}
