package io.spindle.model;

import java.io.Serializable;

/**
 * The key of one global step's random draws on one worker's share of the batch: dropout masks
 * ({@link KeyedDropout}) and input corruption ({@link Corruption}).
 *
 * <p>Every draw for the example at index {@code e} of the step's global batch is a pure function of
 * (seed, global step, e, stream), where the stream names what is drawn (the layer of a dropout
 * mask, or the corruption). The share of a worker starts at {@code firstExample}, so the example in
 * its row {@code r} is {@code e = firstExample + r}. Nothing depends on the worker's rank, on how
 * many workers split the batch, on the sync mode, or on any process-wide generator: the same global
 * step computed by 1, 2 or 4 workers draws the same masks, and a resumed run draws what the
 * uninterrupted one drew.
 *
 * @param seed the seed of the model being trained ({@code training.seed}; autoencoder k of
 *     layer-wise pre-training uses {@code seed + k})
 * @param step the 0-based global step (the optimiser iteration the step applies)
 * @param firstExample index, within the step's global batch, of this share's first example
 */
public record StepKey(long seed, long step, int firstExample) implements Serializable {
  /** The stream of input corruption (dropout masks use the layer index, which is >= 0). */
  public static final long CORRUPTION = -1;

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  public StepKey {
    if (step < 0 || firstExample < 0) {
      throw new IllegalArgumentException(
          "step and firstExample must be >= 0, got " + step + " and " + firstExample);
    }
  }

  /** The seed of every draw of the example in row {@code row} of this share, in {@code stream}. */
  public long exampleSeed(int row, long stream) {
    long h = mix(seed + GOLDEN);
    h = mix(h + step * GOLDEN);
    h = mix(h + (firstExample + (long) row) * GOLDEN);
    return mix(h + stream * GOLDEN);
  }

  /**
   * The {@code i}-th uniform double in [0, 1) of the sequence that starts at {@code exampleSeed}
   * (SplitMix64: one finalising mix of {@code exampleSeed + (i + 1) * golden}, 53 bits).
   */
  public static double uniform(long exampleSeed, long i) {
    return (mix(exampleSeed + (i + 1) * GOLDEN) >>> 11) * 0x1.0p-53;
  }

  /** SplitMix64's finaliser (Stafford's variant 13). */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
