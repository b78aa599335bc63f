package io.spindle.driver.ml;

import io.spindle.driver.data.FeatureColumn;
import io.spindle.driver.score.Scoring;
import io.spindle.worker.BatchScorer;
import io.spindle.worker.ScoringNetwork;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A trained Spindle network as a Spark ML {@link Model}: {@link #transform} adds, like MLlib's
 * {@code MultilayerPerceptronClassificationModel}, the columns {@code rawPrediction} (a Vector of
 * per-class scores: the log of the class probabilities, i.e. the output layer's logits shifted by
 * the per-row constant that softmax removes), {@code probability} (a Vector, the softmax output)
 * and {@code prediction} (a double, the most probable class), so that {@code
 * MulticlassClassificationEvaluator} and {@code BinaryClassificationEvaluator} read it unchanged. A
 * regressor's model adds only {@code prediction} (the value). A column Param set to the empty
 * string is not added.
 *
 * <p>Scoring runs on the executors, batch by batch ({@link #batchSize} rows per forward pass): the
 * network travels in one broadcast per model and Spark context, and each executor JVM builds it
 * once and keeps it for later partitions and calls ({@link BatchScorer}).
 *
 * <p>Saved with {@link #write()} as a directory on any Hadoop file system: {@code metadata/} (the
 * Params, in Spark ML's own format, so {@code PipelineModel} finds this class) and {@code data/}:
 * {@code model.zip} (DL4J's format: configuration JSON and binary parameters), {@code config.yaml}
 * (the training config) and {@code summary.json} (the run's summary). No Java serialisation.
 */
public final class SpindleModel extends Model<SpindleModel> implements DefaultParamsWritable {
  private static final long serialVersionUID = 1L;
  private final String uid;
  private ScoringNetwork network;
  private boolean regression;
  private String configYaml;
  private SpindleTrainingSummary summary;
  private transient Broadcast<ScoringNetwork> broadcast;
  private transient SparkContext broadcastContext;

  final Param<String> featuresCol;
  final Param<String> predictionCol;
  final Param<String> probabilityCol;
  final Param<String> rawPredictionCol;
  final IntParam batchSize;

  /**
   * A model without a network, as Spark ML's reader first creates it; {@link #load} and {@code fit}
   * give the network.
   */
  public SpindleModel(String uid) {
    this.uid = uid;
    featuresCol =
        new Param<>(
            this, "featuresCol", "features column: an ml.linalg Vector or array of numbers");
    predictionCol = new Param<>(this, "predictionCol", "prediction column name");
    probabilityCol =
        new Param<>(this, "probabilityCol", "class probabilities column name (classifiers)");
    rawPredictionCol =
        new Param<>(this, "rawPredictionCol", "raw per-class scores column name (classifiers)");
    batchSize =
        new IntParam(
            this, "batchSize", "rows per forward pass when scoring", ParamValidators.gt(0));
    setDefault(featuresCol, "features");
    setDefault(predictionCol, "prediction");
    setDefault(probabilityCol, "probability");
    setDefault(rawPredictionCol, "rawPrediction");
    setDefault(batchSize, Scoring.DEFAULT_BATCH);
  }

  SpindleModel(
      String uid,
      ScoringNetwork network,
      boolean regression,
      String configYaml,
      SpindleTrainingSummary summary) {
    this(uid);
    attach(network, regression, configYaml, summary);
  }

  void attach(
      ScoringNetwork network,
      boolean regression,
      String configYaml,
      SpindleTrainingSummary summary) {
    this.network = network;
    this.regression = regression;
    this.configYaml = configYaml;
    this.summary = summary;
  }

  @Override
  public String uid() {
    return uid;
  }

  // ---- Params ----

  public Param<String> featuresCol() {
    return featuresCol;
  }

  public Param<String> predictionCol() {
    return predictionCol;
  }

  public Param<String> probabilityCol() {
    return probabilityCol;
  }

  public Param<String> rawPredictionCol() {
    return rawPredictionCol;
  }

  public IntParam batchSize() {
    return batchSize;
  }

  public SpindleModel setFeaturesCol(String value) {
    set(featuresCol, value);
    return this;
  }

  public SpindleModel setPredictionCol(String value) {
    set(predictionCol, value);
    return this;
  }

  public SpindleModel setProbabilityCol(String value) {
    set(probabilityCol, value);
    return this;
  }

  public SpindleModel setRawPredictionCol(String value) {
    set(rawPredictionCol, value);
    return this;
  }

  public SpindleModel setBatchSize(int value) {
    set(batchSize, value);
    return this;
  }

  public String getFeaturesCol() {
    return getOrDefault(featuresCol);
  }

  public String getPredictionCol() {
    return getOrDefault(predictionCol);
  }

  public String getProbabilityCol() {
    return getOrDefault(probabilityCol);
  }

  public String getRawPredictionCol() {
    return getOrDefault(rawPredictionCol);
  }

  public int getBatchSize() {
    return (Integer) getOrDefault(batchSize);
  }

  // ---- what the model is ----

  private ScoringNetwork network() {
    if (network == null) {
      throw new IllegalStateException(
          uid + " holds no network; load a saved model with SpindleModel.load(path)");
    }
    return network;
  }

  /** Features per row the network takes. */
  public int numFeatures() {
    return network().numInputs();
  }

  /** Classes of a classifier; 0 for a regressor. */
  public int numClasses() {
    return regression ? 0 : network().numOutputs();
  }

  public boolean isRegression() {
    return regression;
  }

  /** The Spindle config the model was trained with (YAML). */
  public String config() {
    return configYaml;
  }

  /** The network's parameters, flat (a copy). */
  public float[] parameters() {
    return network().params().toFloatArray();
  }

  ScoringNetwork scoringNetwork() {
    return network();
  }

  /** Whether a training summary is attached (models from fit, and loaded models that saved one). */
  public boolean hasSummary() {
    return summary != null;
  }

  /** The training run behind this model: its summary, metrics and run directory. */
  public SpindleTrainingSummary summary() {
    if (summary == null) {
      throw new IllegalStateException(uid + " has no training summary");
    }
    return summary;
  }

  // ---- transform ----

  /** The names of the columns a model adds ("" = not added). */
  record Columns(String prediction, String probability, String rawPrediction)
      implements java.io.Serializable {}

  Columns columns() {
    return regression
        ? new Columns(getPredictionCol(), "", "")
        : new Columns(getPredictionCol(), getProbabilityCol(), getRawPredictionCol());
  }

  /** {@code schema} plus the output columns; fails naming a column that already exists. */
  static StructType outputSchema(StructType schema, Columns cols) {
    StructType out = schema;
    for (String[] c :
        new String[][] {
          {cols.rawPrediction(), "rawPredictionCol"}, {cols.probability(), "probabilityCol"}
        }) {
      if (!c[0].isEmpty()) {
        out = add(out, c[0], c[1], SQLDataTypes.VectorType());
      }
    }
    if (!cols.prediction().isEmpty()) {
      out = add(out, cols.prediction(), "predictionCol", DataTypes.DoubleType);
    }
    return out;
  }

  private static StructType add(
      StructType schema, String name, String param, org.apache.spark.sql.types.DataType type) {
    if (java.util.Arrays.asList(schema.fieldNames()).contains(name)) {
      throw new IllegalArgumentException(
          "Param " + param + ": output column '" + name + "' already exists in the DataFrame");
    }
    return schema.add(name, type, false);
  }

  @Override
  public StructType transformSchema(StructType schema) {
    try {
      FeatureColumn.check(schema, getFeaturesCol(), "the DataFrame");
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(uid + ": Param featuresCol: " + e.getMessage(), e);
    }
    return outputSchema(schema, columns());
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType outSchema = transformSchema(dataset.schema());
    Dataset<Row> df = dataset.toDF();
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(df.sparkSession().sparkContext());
    Broadcast<ScoringNetwork> net = broadcast(sc);
    int featureIndex = df.schema().fieldIndex(getFeaturesCol());
    String column = getFeaturesCol();
    Columns cols = columns();
    boolean reg = regression;
    int batch = getBatchSize();
    int threads = Scoring.threadsPerTask(sc);
    String where = "column '" + column + "'";
    JavaRDD<Row> rows =
        df.javaRDD()
            .mapPartitionsWithIndex(
                (part, it) -> {
                  long[] row = {0};
                  return BatchScorer.score(
                      net.value(),
                      it,
                      r ->
                          FeatureColumn.features(
                              r.get(featureIndex),
                              "partition " + part + " of the DataFrame",
                              column,
                              row[0]++),
                      (r, out) -> append(r, out, cols, reg),
                      batch,
                      threads,
                      where);
                },
                true);
    return df.sparkSession().createDataFrame(rows, outSchema);
  }

  /** {@code r} plus the output columns for the network's output row {@code out}. */
  static Row append(Row r, float[] out, Columns cols, boolean regression) {
    List<Object> v = new ArrayList<>(r.size() + 3);
    for (int i = 0; i < r.size(); i++) {
      v.add(r.get(i));
    }
    if (regression) {
      if (!cols.prediction().isEmpty()) {
        v.add((double) out[0]);
      }
      return RowFactory.create(v.toArray());
    }
    double[] p = new double[out.length];
    double[] raw = new double[out.length];
    int best = 0;
    for (int i = 0; i < out.length; i++) {
      p[i] = out[i];
      raw[i] = Math.log(Math.max(out[i], Float.MIN_VALUE));
      if (out[i] > out[best]) {
        best = i;
      }
    }
    if (!cols.rawPrediction().isEmpty()) {
      v.add(Vectors.dense(raw));
    }
    if (!cols.probability().isEmpty()) {
      v.add(Vectors.dense(p));
    }
    if (!cols.prediction().isEmpty()) {
      v.add((double) best);
    }
    return RowFactory.create(v.toArray());
  }

  /** The network's broadcast in {@code sc}: made once per model and Spark context. */
  private synchronized Broadcast<ScoringNetwork> broadcast(JavaSparkContext sc) {
    if (broadcast == null || broadcastContext != sc.sc() || sc.sc().isStopped()) {
      broadcast = sc.broadcast(network());
      broadcastContext = sc.sc();
    }
    return broadcast;
  }

  @Override
  public SpindleModel copy(ParamMap extra) {
    SpindleModel copy = new SpindleModel(uid, network, regression, configYaml, summary);
    copyValues(copy, extra);
    return copy.setParent(parent());
  }

  // ---- persistence ----

  @Override
  public MLWriter write() {
    return new SpindleModelIO.Writer(this);
  }

  /** Spark ML's writer of this model's Params (the {@code metadata/} folder). */
  MLWriter paramsWriter() {
    return DefaultParamsWritable.super.write();
  }

  public static MLReader<SpindleModel> read() {
    return new SpindleModelIO.Reader();
  }

  public static SpindleModel load(String path) {
    return read().load(path);
  }
}
