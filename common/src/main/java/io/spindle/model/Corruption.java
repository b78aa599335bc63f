package io.spindle.model;

import java.util.SplittableRandom;

/**
 * The input corruption of a denoising autoencoder: masking noise (each value set to 0 with
 * probability {@code maskProbability}, the others kept as they are, not rescaled) and then additive
 * Gaussian noise of standard deviation {@code gaussianSigma}. A pure function of the clean values
 * and a seed; a batch's rows are each corrupted with the seed of their example ({@link
 * StepKey#exampleSeed} in the stream {@link StepKey#CORRUPTION}), so an example is corrupted the
 * same way whichever worker holds it and however the batch is split.
 *
 * @param maskProbability in [0, 1)
 * @param gaussianSigma >= 0
 */
public record Corruption(double maskProbability, double gaussianSigma)
    implements java.io.Serializable {
  public Corruption {
    if (!(maskProbability >= 0 && maskProbability < 1)) {
      throw new IllegalArgumentException(
          "maskProbability must be in [0, 1), got " + maskProbability);
    }
    if (!(gaussianSigma >= 0) || Double.isInfinite(gaussianSigma)) {
      throw new IllegalArgumentException("gaussianSigma must be >= 0, got " + gaussianSigma);
    }
  }

  public static Corruption none() {
    return new Corruption(0, 0);
  }

  /** Whether this corruption leaves every input unchanged (a plain autoencoder). */
  public boolean isNone() {
    return maskProbability == 0 && gaussianSigma == 0;
  }

  /**
   * A corrupted copy of {@code clean}; {@code clean} itself is never modified. The values drawn
   * depend only on {@code seed} and the position in the array.
   */
  public float[] apply(float[] clean, long seed) {
    float[] out = clean.clone();
    if (isNone()) {
      return out;
    }
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < out.length; i++) {
      if (maskProbability > 0 && random.nextDouble() < maskProbability) {
        out[i] = 0f;
      }
      if (gaussianSigma > 0) {
        out[i] += (float) (gaussianSigma * gaussian(random));
      }
    }
    return out;
  }

  /**
   * A corrupted copy of a batch's features ({@code rows x numFeatures}, row-major): row r with the
   * seed of its example under {@code key}.
   */
  public float[] apply(float[] clean, int numFeatures, StepKey key) {
    if (numFeatures <= 0 || clean.length % numFeatures != 0) {
      throw new IllegalArgumentException(
          clean.length + " values are not rows of " + numFeatures + " features");
    }
    float[] out = new float[clean.length];
    float[] row = new float[numFeatures];
    for (int r = 0; r < clean.length / numFeatures; r++) {
      System.arraycopy(clean, r * numFeatures, row, 0, numFeatures);
      System.arraycopy(
          apply(row, key.exampleSeed(r, StepKey.CORRUPTION)), 0, out, r * numFeatures, numFeatures);
    }
    return out;
  }

  /** A standard normal value (Marsaglia's polar method; SplittableRandom has no nextGaussian). */
  private static double gaussian(SplittableRandom random) {
    double u;
    double v;
    double s;
    do {
      u = 2 * random.nextDouble() - 1;
      v = 2 * random.nextDouble() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    return u * Math.sqrt(-2 * Math.log(s) / s);
  }
}
