package io.spindle.sync;

import io.spindle.tensor.FlatVector;
import java.io.Serializable;

/**
 * Weighted average of the workers' parameters and optimiser state after a parameter-averaging
 * round: each worker counts in proportion to the examples it trained on. {@code merge} is
 * associative and commutative, and an empty aggregator is its identity.
 */
public final class AveragingAggregator implements Serializable {
  private static final long serialVersionUID = 1L;
  private FlatVector weightedParams;
  private FlatVector weightedState;
  private double lossSum;
  private long examples;
  private long correct;
  private int steps;

  public static AveragingAggregator empty() {
    return new AveragingAggregator();
  }

  /**
   * Adds a worker that trained on {@code count} examples over {@code steps} local steps, ending
   * with {@code params} and {@code state}.
   */
  public AveragingAggregator add(
      FlatVector params, FlatVector state, double lossSum, long count, long correct, int steps) {
    this.steps = Math.max(this.steps, steps);
    if (count == 0) {
      return this;
    }
    if (weightedParams == null) {
      weightedParams = params.copy().scale(count);
      weightedState = state.copy().scale(count);
    } else {
      weightedParams.addScaled(params, count);
      weightedState.addScaled(state, count);
    }
    this.lossSum += lossSum;
    this.examples += count;
    this.correct += correct;
    return this;
  }

  public AveragingAggregator merge(AveragingAggregator other) {
    steps = Math.max(steps, other.steps);
    if (other.examples == 0) {
      return this;
    }
    if (weightedParams == null) {
      weightedParams = other.weightedParams.copy();
      weightedState = other.weightedState.copy();
    } else {
      weightedParams.addScaled(other.weightedParams, 1.0);
      weightedState.addScaled(other.weightedState, 1.0);
    }
    lossSum += other.lossSum;
    examples += other.examples;
    correct += other.correct;
    return this;
  }

  public long examples() {
    return examples;
  }

  public int steps() {
    return steps;
  }

  public FlatVector averageParams() {
    return weightedParams.copy().scale(1.0 / examples);
  }

  public FlatVector averageState() {
    return weightedState.copy().scale(1.0 / examples);
  }

  public long correct() {
    return correct;
  }

  public double meanLoss() {
    return examples == 0 ? Double.NaN : lossSum / examples;
  }
}
