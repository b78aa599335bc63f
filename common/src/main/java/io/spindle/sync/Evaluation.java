package io.spindle.sync;

import java.io.Serializable;

/**
 * Test-set counts merged across partitions: correct predictions, summed loss, examples. A plain
 * class, not a record: Spark's Kryo cannot rebuild records.
 */
public final class Evaluation implements Serializable {
  private static final long serialVersionUID = 1L;
  private final long correct;
  private final double lossSum;
  private final long examples;

  public Evaluation(long correct, double lossSum, long examples) {
    this.correct = correct;
    this.lossSum = lossSum;
    this.examples = examples;
  }

  public static Evaluation empty() {
    return new Evaluation(0, 0.0, 0);
  }

  public Evaluation merge(Evaluation other) {
    return new Evaluation(
        correct + other.correct, lossSum + other.lossSum, examples + other.examples);
  }

  public long correct() {
    return correct;
  }

  public long examples() {
    return examples;
  }

  public double accuracy() {
    return examples == 0 ? Double.NaN : (double) correct / examples;
  }

  public double meanLoss() {
    return examples == 0 ? Double.NaN : lossSum / examples;
  }
}
