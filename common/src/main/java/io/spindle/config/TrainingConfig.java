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
 * @param accumulate gradient accumulation: each worker computes its share of a global step in this
 *     many micro-batches (of near-equal size) and sums their gradients before the exchange, so that
 *     a global batch larger than the workers' memory allows is still one exact step (> 0; 1 =
 *     none). {@code batchSize} stays the global batch of one step: {@code batchSize: 8192,
 *     accumulate: 4} is the step of 8192 examples computed 2048 at a time
 */
public record TrainingConfig(
    int epochs, int batchSize, long seed, int logEvery, long maxSteps, int accumulate)
    implements java.io.Serializable {
  /** No gradient accumulation. */
  public TrainingConfig(int epochs, int batchSize, long seed, int logEvery, long maxSteps) {
    this(epochs, batchSize, seed, logEvery, maxSteps, 1);
  }

  public TrainingConfig {
    Check.positive("accumulate", accumulate);
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
