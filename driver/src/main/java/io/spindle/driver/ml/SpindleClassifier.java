package io.spindle.driver.ml;

import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReadable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;

/**
 * A Spark ML classifier trained by Spindle: {@code fit} runs Spindle's data-parallel training on
 * the DataFrame (features an ml.linalg Vector or array of numbers, labels class indices 0..K-1) and
 * returns a {@link SpindleModel} that adds {@code rawPrediction}, {@code probability} and {@code
 * prediction} as MLlib's MultilayerPerceptronClassifier does. The Params and the config are
 * described in {@link SpindleEstimator}.
 *
 * <pre>{@code
 * SpindleClassifier clf = new SpindleClassifier()
 *     .setLayers(64, 32).setLearningRate(0.01).setEpochs(10).setBatchSize(128);
 * PipelineModel model = new Pipeline().setStages(new PipelineStage[] {assembler, scaler, clf})
 *     .fit(train);
 * }</pre>
 */
public final class SpindleClassifier extends SpindleEstimator<SpindleClassifier> {
  private static final long serialVersionUID = 1L;
  final Param<String> probabilityCol;
  final Param<String> rawPredictionCol;

  public SpindleClassifier() {
    this(Identifiable.randomUID("SpindleClassifier"));
  }

  public SpindleClassifier(String uid) {
    super(uid);
    probabilityCol =
        new Param<>(this, "probabilityCol", "class probabilities column name (a Vector)");
    rawPredictionCol =
        new Param<>(this, "rawPredictionCol", "raw per-class scores column name (a Vector: log p)");
    setDefault(probabilityCol, "probability");
    setDefault(rawPredictionCol, "rawPrediction");
  }

  @Override
  boolean regression() {
    return false;
  }

  @Override
  SpindleModel.Columns outputColumns() {
    return new SpindleModel.Columns(getPredictionCol(), getProbabilityCol(), getRawPredictionCol());
  }

  public Param<String> probabilityCol() {
    return probabilityCol;
  }

  public Param<String> rawPredictionCol() {
    return rawPredictionCol;
  }

  public SpindleClassifier setProbabilityCol(String value) {
    set(probabilityCol, value);
    return this;
  }

  public SpindleClassifier setRawPredictionCol(String value) {
    set(rawPredictionCol, value);
    return this;
  }

  public String getProbabilityCol() {
    return getOrDefault(probabilityCol);
  }

  public String getRawPredictionCol() {
    return getOrDefault(rawPredictionCol);
  }

  @Override
  public SpindleClassifier copy(ParamMap extra) {
    return defaultCopy(extra);
  }

  public static MLReader<SpindleClassifier> read() {
    return new DefaultParamsReadable<SpindleClassifier>() {}.read();
  }

  public static SpindleClassifier load(String path) {
    return read().load(path);
  }
}
