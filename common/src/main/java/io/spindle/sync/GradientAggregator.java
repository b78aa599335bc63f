package io.spindle.sync;

import io.spindle.tensor.FlatVector;
import java.io.Serializable;

/**
 * Sums the workers' results of one synchronous step: the sum over examples of the per-example loss
 * gradient, the sum of per-example losses and the number of examples. {@code merge} is associative
 * and commutative (up to floating-point rounding), and an empty aggregator is its identity, so
 * Spark may combine partial sums in any tree.
 */
public final class GradientAggregator implements Serializable {
  private static final long serialVersionUID = 1L;
  private FlatVector gradientSum;
  private double lossSum;
  private long examples;
  private long correct;

  public static GradientAggregator empty() {
    return new GradientAggregator();
  }

  /**
   * Adds one worker's summed gradient over {@code count} examples, their summed loss and how many
   * of them the model (before the step) classified correctly.
   */
  public GradientAggregator add(FlatVector gradientSum, double lossSum, long count, long correct) {
    if (count == 0) {
      return this;
    }
    if (this.gradientSum == null) {
      this.gradientSum = gradientSum.copy();
    } else {
      this.gradientSum.addScaled(gradientSum, 1.0);
    }
    this.lossSum += lossSum;
    this.examples += count;
    this.correct += correct;
    return this;
  }

  public GradientAggregator merge(GradientAggregator other) {
    if (other.examples == 0) {
      return this;
    }
    return add(other.gradientSum, other.lossSum, other.examples, other.correct);
  }

  public long examples() {
    return examples;
  }

  /** The summed gradient, or null when no example was added. */
  public FlatVector gradientSum() {
    return gradientSum;
  }

  public long correct() {
    return correct;
  }

  public double meanLoss() {
    return examples == 0 ? Double.NaN : lossSum / examples;
  }
}
