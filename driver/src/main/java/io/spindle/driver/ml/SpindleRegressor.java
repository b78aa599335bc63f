package io.spindle.driver.ml;

import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReadable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;

/**
 * A Spark ML regressor trained by Spindle: as {@link SpindleClassifier}, but the label column holds
 * target values, the output layer is one identity unit trained with squared error, and the model
 * adds only {@code prediction}, which {@code RegressionEvaluator} reads.
 */
public final class SpindleRegressor extends SpindleEstimator<SpindleRegressor> {
  private static final long serialVersionUID = 1L;

  public SpindleRegressor() {
    this(Identifiable.randomUID("SpindleRegressor"));
  }

  public SpindleRegressor(String uid) {
    super(uid);
  }

  @Override
  boolean regression() {
    return true;
  }

  @Override
  SpindleModel.Columns outputColumns() {
    return new SpindleModel.Columns(getPredictionCol(), "", "");
  }

  @Override
  public SpindleRegressor copy(ParamMap extra) {
    return defaultCopy(extra);
  }

  public static MLReader<SpindleRegressor> read() {
    return new DefaultParamsReadable<SpindleRegressor>() {}.read();
  }

  public static SpindleRegressor load(String path) {
    return read().load(path);
  }
}
