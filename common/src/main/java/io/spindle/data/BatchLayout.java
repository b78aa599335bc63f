package io.spindle.data;

import java.io.Serializable;

/**
 * How an epoch's global batches are laid out over the workers ({@link EpochPlan} without the
 * permutation): what a worker needs to know where its share of a step sits in the global batch.
 *
 * @param numExamples training examples per epoch
 * @param batchSize the global batch (the last step of an epoch may be smaller)
 * @param workers data-parallel workers sharing every step
 */
public record BatchLayout(int numExamples, int batchSize, int workers) implements Serializable {
  public BatchLayout {
    if (numExamples <= 0 || batchSize <= 0 || workers <= 0) {
      throw new IllegalArgumentException(
          "expected numExamples, batchSize, workers > 0, got "
              + numExamples
              + ", "
              + batchSize
              + ", "
              + workers);
    }
  }

  /** Global steps in an epoch. */
  public int stepsPerEpoch() {
    return (numExamples + batchSize - 1) / batchSize;
  }

  /** Examples in step {@code step} of the epoch, over all workers. */
  public int stepSize(int step) {
    return EpochPlan.stepSize(step, numExamples, batchSize);
  }

  /**
   * Index, within the global batch of step {@code step}, of worker {@code worker}'s first example.
   */
  public int firstExample(int step, int worker) {
    return EpochPlan.sliceStart(stepSize(step), worker, workers);
  }
}
