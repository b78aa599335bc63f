package io.spindle.driver.score;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Counts of a classifier's test: the confusion matrix ({@code [true class][predicted class]}), the
 * summed cross-entropy {@code -ln p(true class)}, and top-5 hits. {@link #add} takes one example,
 * {@link #merge} combines partitions (associative, with {@link #empty} as identity), so partitions
 * are counted on the executors and merged on the driver.
 */
public final class ClassificationMetrics implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The smallest probability the loss takes, so a wrong certain answer costs ~103.3, not inf. */
  static final double MIN_PROBABILITY = 1e-45;

  private final long[][] confusion;
  private double lossSum;
  private long top5;

  private ClassificationMetrics(int classes) {
    this.confusion = new long[classes][classes];
  }

  public static ClassificationMetrics empty(int classes) {
    if (classes < 1) {
      throw new IllegalArgumentException("classes must be >= 1, got " + classes);
    }
    return new ClassificationMetrics(classes);
  }

  /** Adds one example of class {@code label} whose predicted distribution is {@code output}. */
  public ClassificationMetrics add(int label, float[] output) {
    if (output.length != confusion.length) {
      throw new IllegalArgumentException(
          "expected " + confusion.length + " outputs, found " + output.length);
    }
    int predicted = 0;
    int above = 0;
    for (int i = 0; i < output.length; i++) {
      if (output[i] > output[predicted]) {
        predicted = i;
      }
      if (output[i] > output[label]) {
        above++;
      }
    }
    confusion[label][predicted]++;
    lossSum -= Math.log(Math.max(MIN_PROBABILITY, output[label]));
    if (above < 5) {
      top5++;
    }
    return this;
  }

  /** This plus {@code other}, into this. */
  public ClassificationMetrics merge(ClassificationMetrics other) {
    if (other.confusion.length != confusion.length) {
      throw new IllegalArgumentException(
          "cannot merge metrics of "
              + other.confusion.length
              + " classes into metrics of "
              + confusion.length);
    }
    for (int i = 0; i < confusion.length; i++) {
      for (int j = 0; j < confusion.length; j++) {
        confusion[i][j] += other.confusion[i][j];
      }
    }
    lossSum += other.lossSum;
    top5 += other.top5;
    return this;
  }

  public int classes() {
    return confusion.length;
  }

  public long examples() {
    long n = 0;
    for (long[] row : confusion) {
      for (long c : row) {
        n += c;
      }
    }
    return n;
  }

  public long correct() {
    long n = 0;
    for (int i = 0; i < confusion.length; i++) {
      n += confusion[i][i];
    }
    return n;
  }

  public double accuracy() {
    return (double) correct() / examples();
  }

  /** Mean cross-entropy of the true class (no L1/L2 penalty). */
  public double meanLoss() {
    return lossSum / examples();
  }

  /** Share of examples whose class is among the 5 highest outputs (ties counted in its favour). */
  public double top5Accuracy() {
    return (double) top5 / examples();
  }

  /** A copy of the confusion matrix, rows the true class, columns the predicted one. */
  public long[][] confusion() {
    long[][] out = new long[confusion.length][];
    for (int i = 0; i < out.length; i++) {
      out[i] = confusion[i].clone();
    }
    return out;
  }

  /**
   * The metrics as {@code evaluation.json} holds them: examples, accuracy, loss, top-5 (more than 5
   * classes only), macro-averaged and per-class precision, recall, F1 and support, and the
   * confusion matrix. A class never predicted has precision 0; one with no examples, recall 0.
   */
  public Map<String, Object> toMap() {
    int k = confusion.length;
    long n = examples();
    List<Map<String, Object>> perClass = new ArrayList<>();
    double sumP = 0;
    double sumR = 0;
    double sumF = 0;
    for (int c = 0; c < k; c++) {
      long tp = confusion[c][c];
      long support = 0;
      long predicted = 0;
      for (int j = 0; j < k; j++) {
        support += confusion[c][j];
        predicted += confusion[j][c];
      }
      double precision = predicted == 0 ? 0 : (double) tp / predicted;
      double recall = support == 0 ? 0 : (double) tp / support;
      double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("class", c);
      row.put("precision", precision);
      row.put("recall", recall);
      row.put("f1", f1);
      row.put("support", support);
      perClass.add(row);
      sumP += precision;
      sumR += recall;
      sumF += f1;
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("task", "classification");
    out.put("examples", n);
    out.put("accuracy", accuracy());
    out.put("loss", meanLoss());
    if (k > 5) {
      out.put("top5_accuracy", top5Accuracy());
    }
    out.put("macro_precision", sumP / k);
    out.put("macro_recall", sumR / k);
    out.put("macro_f1", sumF / k);
    out.put("per_class", perClass);
    List<List<Long>> matrix = new ArrayList<>();
    for (long[] row : confusion) {
      List<Long> r = new ArrayList<>();
      for (long c : row) {
        r.add(c);
      }
      matrix.add(r);
    }
    out.put("confusion_matrix", matrix);
    return out;
  }
}
