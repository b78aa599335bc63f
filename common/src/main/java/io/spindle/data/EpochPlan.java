package io.spindle.data;

import java.util.SplittableRandom;

/**
 * The order in which one epoch visits the training set, and how each global mini-batch is split
 * over the workers. Every executor derives the same plan from (seed, epoch), so no index list ever
 * travels, and a run is reproducible from its seed whatever Spark's scheduling.
 *
 * <p>Position {@code p} of the epoch holds example {@code permutation[p]}. Global step {@code s}
 * takes positions {@code [s * batchSize, min((s + 1) * batchSize, n))}; the last step may be
 * smaller. Inside a step of {@code b} examples, worker {@code w} takes offsets {@code [floor(w * b
 * / N), floor((w + 1) * b / N))}, so the workers' shares differ by at most one.
 */
public final class EpochPlan {
  private final int numExamples;
  private final int batchSize;
  private final int workers;
  private final int[] permutation;
  private final int[] positionOf;

  public EpochPlan(int numExamples, int batchSize, int workers, long seed, int epoch) {
    if (numExamples <= 0 || batchSize <= 0 || workers <= 0 || epoch < 0) {
      throw new IllegalArgumentException(
          "expected numExamples, batchSize, workers > 0 and epoch >= 0, got "
              + numExamples
              + ", "
              + batchSize
              + ", "
              + workers
              + ", "
              + epoch);
    }
    this.numExamples = numExamples;
    this.batchSize = batchSize;
    this.workers = workers;
    this.permutation = permutation(numExamples, seed, epoch);
    this.positionOf = new int[numExamples];
    for (int p = 0; p < numExamples; p++) {
      positionOf[permutation[p]] = p;
    }
  }

  /** A seeded Fisher-Yates permutation of {@code 0..n-1} for this epoch. */
  static int[] permutation(int n, long seed, int epoch) {
    int[] perm = new int[n];
    for (int i = 0; i < n; i++) {
      perm[i] = i;
    }
    SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    return perm;
  }

  public int numExamples() {
    return numExamples;
  }

  public int workers() {
    return workers;
  }

  /** Examples per global step (the last step may hold fewer). */
  public int batchSize() {
    return batchSize;
  }

  /** The example in row {@code row} of worker {@code worker}'s share of step {@code step}. */
  public int exampleAt(int step, int worker, int row) {
    return permutation[step * batchSize + sliceStart(stepSize(step), worker) + row];
  }

  public int stepsPerEpoch() {
    return (numExamples + batchSize - 1) / batchSize;
  }

  /** Examples in global step {@code step}. */
  public int stepSize(int step) {
    return stepSize(step, numExamples, batchSize);
  }

  /** Examples in global step {@code step} of an epoch of {@code numExamples} in batches. */
  public static int stepSize(int step, int numExamples, int batchSize) {
    return Math.min(batchSize, numExamples - step * batchSize);
  }

  /** First offset inside a step of {@code size} examples that belongs to {@code worker}. */
  public int sliceStart(int size, int worker) {
    return sliceStart(size, worker, workers);
  }

  /** First offset inside a step of {@code size} examples that belongs to worker w of N. */
  public static int sliceStart(int size, int worker, int workers) {
    return (int) ((long) worker * size / workers);
  }

  /** The example at position {@code position} of the epoch. */
  public int exampleAt(int position) {
    return permutation[position];
  }

  /** The position of example {@code index} in this epoch. */
  public int positionOf(int index) {
    return positionOf[index];
  }

  /** The worker that trains on the example at {@code position}. */
  public int workerOf(int position) {
    return workerOf(position, numExamples, batchSize, workers);
  }

  /**
   * The worker that trains on the example at {@code position}; depends only on the sizes, not on
   * the permutation, so a Spark partitioner can compute it.
   */
  public static int workerOf(int position, int numExamples, int batchSize, int workers) {
    int step = position / batchSize;
    int offset = position - step * batchSize;
    int size = Math.min(batchSize, numExamples - step * batchSize);
    // the largest w with floor(w * size / workers) <= offset
    int w = (int) (((long) offset * workers) / size);
    while (w > 0 && (long) w * size / workers > offset) {
      w--;
    }
    while (w + 1 < workers && (long) (w + 1) * size / workers <= offset) {
      w++;
    }
    return w;
  }

  public int stepOf(int position) {
    return position / batchSize;
  }
}
