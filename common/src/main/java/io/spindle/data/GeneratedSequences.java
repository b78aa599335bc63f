package io.spindle.data;

import java.util.SplittableRandom;

/**
 * The {@code majority-tokens} data set, generated rather than downloaded: each example is a
 * sequence of {@link #STEPS} token ids drawn uniformly from {@code 0..}{@link #VOCABULARY}-1, and
 * its label is the token that occurs most often (ties go to the smallest id). Every example is a
 * pure function of its index and split, so any partitioning of the work yields the same data set.
 * Features are the token ids as floats, one per step (read with {@code model.input: {type:
 * sequence, steps: 21, features: 1}} by an embedding layer).
 */
public final class GeneratedSequences {
  public static final String NAME = "majority-tokens";
  public static final int STEPS = 21;
  public static final int VOCABULARY = 4;
  public static final int NUM_CLASSES = VOCABULARY;
  public static final int TRAIN_SIZE = 20_000;
  public static final int TEST_SIZE = 2_000;
  private static final long TRAIN_SEED = 0x5EED_7041L;
  private static final long TEST_SEED = 0x7E57_5EEDL;

  private GeneratedSequences() {}

  /** Training ({@code test} false) or test example number {@code index}. */
  public static Example example(int index, boolean test) {
    int limit = test ? TEST_SIZE : TRAIN_SIZE;
    if (index < 0 || index >= limit) {
      throw new IllegalArgumentException(
          "index must be in [0, "
              + limit
              + "), got "
              + index
              + " ("
              + (test ? "test" : "train")
              + ")");
    }
    SplittableRandom rng = new SplittableRandom((test ? TEST_SEED : TRAIN_SEED) * 31 + index);
    float[] tokens = new float[STEPS];
    int[] counts = new int[VOCABULARY];
    for (int t = 0; t < STEPS; t++) {
      int token = rng.nextInt(VOCABULARY);
      tokens[t] = token;
      counts[token]++;
    }
    int label = 0;
    for (int k = 1; k < VOCABULARY; k++) {
      if (counts[k] > counts[label]) {
        label = k;
      }
    }
    return new Example(index, tokens, label);
  }
}
