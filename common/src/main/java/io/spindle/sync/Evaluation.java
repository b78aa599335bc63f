package io.spindle.sync;

import java.io.Serializable;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Test-set counts merged across partitions: correct predictions (top-1 and top-5), summed loss,
 * examples. A plain class, not a record: Spark's Kryo cannot rebuild records.
 *
 * <p>An example counts as top-5 correct when fewer than 5 classes score strictly higher than its
 * label (so with 5 classes or fewer every example does). Counts made without top-5 (autoencoders,
 * the 3-argument constructor) leave it unknown: {@link #top5Accuracy} is then NaN, also after
 * merging with counts that have it.
 */
public final class Evaluation implements Serializable {
  private static final long serialVersionUID = 2L;
  private final long correct;
  private final long correctTop5;
  private final double lossSum;
  private final long examples;

  /** Counts without top-5. */
  public Evaluation(long correct, double lossSum, long examples) {
    this(correct, -1, lossSum, examples);
  }

  /**
   * @param correctTop5 examples whose label is among the 5 highest scores, or -1 if not counted
   */
  public Evaluation(long correct, long correctTop5, double lossSum, long examples) {
    this.correct = correct;
    this.correctTop5 = correctTop5;
    this.lossSum = lossSum;
    this.examples = examples;
  }

  public static Evaluation empty() {
    return new Evaluation(0, 0, 0.0, 0);
  }

  public Evaluation merge(Evaluation other) {
    return new Evaluation(
        correct + other.correct,
        correctTop5 < 0 || other.correctTop5 < 0 ? -1 : correctTop5 + other.correctTop5,
        lossSum + other.lossSum,
        examples + other.examples);
  }

  /**
   * Rows {@code 0..n} of {@code scores} (examples {@code from...} of a batch with these {@code
   * labels}) whose label is among the {@code k} highest scores of its row.
   */
  public static long correctInTopK(INDArray scores, int[] labels, int from, int k) {
    long n = scores.size(0);
    long classes = scores.size(1);
    long correct = 0;
    for (int i = 0; i < n; i++) {
      double own = scores.getDouble(i, labels[from + i]);
      int higher = 0;
      for (long c = 0; c < classes && higher < k; c++) {
        if (scores.getDouble(i, c) > own) {
          higher++;
        }
      }
      if (higher < k) {
        correct++;
      }
    }
    return correct;
  }

  public long correct() {
    return correct;
  }

  /** Top-5 correct examples, or -1 when not counted. */
  public long correctTop5() {
    return correctTop5;
  }

  public long examples() {
    return examples;
  }

  public double accuracy() {
    return examples == 0 ? Double.NaN : (double) correct / examples;
  }

  /** Fraction of examples whose label is among the 5 highest scores; NaN when not counted. */
  public double top5Accuracy() {
    return examples == 0 || correctTop5 < 0 ? Double.NaN : (double) correctTop5 / examples;
  }

  public double meanLoss() {
    return examples == 0 ? Double.NaN : lossSum / examples;
  }
}
