package io.spindle.driver.score;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Counts of a regressor's test: squared and absolute errors and the targets' first two moments, for
 * RMSE, MAE, mean squared error (the training loss) and R². {@link #add}/{@link #merge} as in
 * {@link ClassificationMetrics}.
 */
public final class RegressionMetrics implements Serializable {
  private static final long serialVersionUID = 1L;
  private long n;
  private double squared;
  private double absolute;
  private double sumY;
  private double sumY2;

  public static RegressionMetrics empty() {
    return new RegressionMetrics();
  }

  public RegressionMetrics add(double target, double prediction) {
    double e = prediction - target;
    n++;
    squared += e * e;
    absolute += Math.abs(e);
    sumY += target;
    sumY2 += target * target;
    return this;
  }

  public RegressionMetrics merge(RegressionMetrics o) {
    n += o.n;
    squared += o.squared;
    absolute += o.absolute;
    sumY += o.sumY;
    sumY2 += o.sumY2;
    return this;
  }

  public long examples() {
    return n;
  }

  public double mse() {
    return squared / n;
  }

  public double rmse() {
    return Math.sqrt(mse());
  }

  public double mae() {
    return absolute / n;
  }

  /** 1 - SSE / SST; NaN when the targets do not vary. */
  public double r2() {
    double sst = sumY2 - sumY * sumY / n;
    return sst <= 0 ? Double.NaN : 1 - squared / sst;
  }

  public Map<String, Object> toMap() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("task", "regression");
    out.put("examples", n);
    out.put("rmse", rmse());
    out.put("mae", mae());
    out.put("mse", mse());
    out.put("r2", r2());
    return out;
  }
}
