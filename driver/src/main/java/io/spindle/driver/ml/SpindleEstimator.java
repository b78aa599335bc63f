package io.spindle.driver.ml;

import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.LayerConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import io.spindle.driver.cluster.ResourcePlan;
import io.spindle.driver.data.FeatureColumn;
import io.spindle.driver.job.TrainJob;
import io.spindle.driver.score.TrainedModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructType;

/**
 * What {@link SpindleClassifier} and {@link SpindleRegressor} share: the Params, and {@code fit},
 * which runs Spindle's training job ({@link TrainJob#run}) on the DataFrame, so that every sync
 * mode, checkpoints, the listeners and the run files ({@code metrics.jsonl}, {@code report.html},
 * {@code summary.json}) behave as under {@code spindle train}.
 *
 * <p><b>The config.</b> The Spindle config comes from {@link #config} (YAML text) or {@link
 * #configFile} (a YAML file, local or Hadoop URI), else Spindle's defaults. The typed Params
 * ({@link #layers}, {@link #optimizer}, {@link #learningRate}, {@link #epochs}, {@link #batchSize},
 * {@link #workers}, {@link #sync}, {@link #seed}) override its keys when set; unset, their getters
 * return the config's value. {@code fit} sets the data keys itself: the DataFrame is the table, its
 * columns {@link #featuresCol} and {@link #labelCol}, and the output layer gets one unit per class
 * (a regressor: one identity unit with squared error).
 *
 * <p><b>How the DataFrame reaches training.</b> {@code fit} registers it (and the validation part,
 * see {@link #validationFraction}) as global temporary views and runs the training job with {@code
 * data.format: table}, whose reader ({@code io.spindle.driver.data.TableSource}) reads it on the
 * executors like any Spark table. With {@code validationFraction} 0 (the default) the per-epoch
 * evaluation runs on the training data itself.
 *
 * @param <E> the concrete estimator, for the setters' return type
 */
public abstract class SpindleEstimator<E extends SpindleEstimator<E>>
    extends Estimator<SpindleModel> implements DefaultParamsWritable {
  private static final long serialVersionUID = 1L;
  private final String uid;

  final Param<String> featuresCol;
  final Param<String> labelCol;
  final Param<String> predictionCol;
  final Param<String> config;
  final Param<String> configFile;
  final IntArrayParam layers;
  final Param<String> optimizer;
  final DoubleParam learningRate;
  final IntParam epochs;
  final IntParam batchSize;
  final IntParam workers;
  final Param<String> sync;
  final LongParam seed;
  final DoubleParam validationFraction;
  final Param<String> runDir;

  @SuppressWarnings("unchecked")
  protected SpindleEstimator(String uid) {
    this.uid = uid;
    featuresCol =
        new Param<>(
            this, "featuresCol", "features column: an ml.linalg Vector or array of numbers");
    labelCol =
        new Param<>(this, "labelCol", "label column: the class index (classifier) or target value");
    predictionCol = new Param<>(this, "predictionCol", "prediction column name");
    config = new Param<>(this, "config", "Spindle config as YAML text (empty: the defaults)");
    configFile =
        new Param<>(this, "configFile", "Spindle config YAML file, local or Hadoop URI (or empty)");
    layers =
        new IntArrayParam(
            this,
            "layers",
            "hidden layer sizes (dense, ReLU); the output layer is sized from the data",
            (scala.Function1<int[], Object>)
                a -> a.length > 0 && Arrays.stream(a).allMatch(u -> u > 0));
    optimizer =
        new Param<>(
            this,
            "optimizer",
            "optimizer.type: sgd, momentum, nesterov, adagrad, rmsprop or adam",
            ParamValidators.inArray(
                new String[] {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}));
    learningRate =
        new DoubleParam(this, "learningRate", "optimizer.learningRate, > 0", ParamValidators.gt(0));
    epochs = new IntParam(this, "epochs", "training.epochs, > 0", ParamValidators.gt(0));
    batchSize =
        new IntParam(
            this,
            "batchSize",
            "training.batchSize: the global batch (0 = full batch), >= 0",
            ParamValidators.gtEq(0));
    workers = new IntParam(this, "workers", "cluster.workers, > 0", ParamValidators.gt(0));
    sync =
        new Param<>(
            this,
            "sync",
            "cluster.sync: collective, gradient_sharing or parameter_averaging",
            ParamValidators.inArray(
                new String[] {"collective", "gradient_sharing", "parameter_averaging"}));
    seed = new LongParam(this, "seed", "training.seed");
    validationFraction =
        new DoubleParam(
            this,
            "validationFraction",
            "share of the rows held out for the per-epoch evaluation, in [0, 1) (0: evaluate on"
                + " the training rows)",
            ParamValidators.inRange(0, 1, true, false));
    runDir =
        new Param<>(
            this,
            "runDir",
            "local directory under which each fit writes its run files (metrics, checkpoints,"
                + " report) into a new folder fit-*; empty: the system's temporary directory");
    setDefault(featuresCol, "features");
    setDefault(labelCol, "label");
    setDefault(predictionCol, "prediction");
    setDefault(config, "");
    setDefault(configFile, "");
    setDefault(validationFraction, 0.0);
    setDefault(runDir, "");
  }

  @SuppressWarnings("unchecked")
  private E self() {
    return (E) this;
  }

  @Override
  public String uid() {
    return uid;
  }

  /** Whether the labels are values (a regressor) rather than class indices. */
  abstract boolean regression();

  // ---- Params (accessors are how Spark ML finds them) ----

  public Param<String> featuresCol() {
    return featuresCol;
  }

  public Param<String> labelCol() {
    return labelCol;
  }

  public Param<String> predictionCol() {
    return predictionCol;
  }

  public Param<String> config() {
    return config;
  }

  public Param<String> configFile() {
    return configFile;
  }

  public IntArrayParam layers() {
    return layers;
  }

  public Param<String> optimizer() {
    return optimizer;
  }

  public DoubleParam learningRate() {
    return learningRate;
  }

  public IntParam epochs() {
    return epochs;
  }

  public IntParam batchSize() {
    return batchSize;
  }

  public IntParam workers() {
    return workers;
  }

  public Param<String> sync() {
    return sync;
  }

  public LongParam seed() {
    return seed;
  }

  public DoubleParam validationFraction() {
    return validationFraction;
  }

  public Param<String> runDir() {
    return runDir;
  }

  // ---- setters and getters ----

  public E setFeaturesCol(String value) {
    set(featuresCol, value);
    return self();
  }

  public E setLabelCol(String value) {
    set(labelCol, value);
    return self();
  }

  public E setPredictionCol(String value) {
    set(predictionCol, value);
    return self();
  }

  /** The Spindle config as YAML text; checked at once, errors name this Param. */
  public E setConfig(String yaml) {
    parse(yaml == null ? "" : yaml, "Param config", List.of());
    set(config, yaml == null ? "" : yaml);
    return self();
  }

  public E setConfigFile(String path) {
    set(configFile, path == null ? "" : path);
    return self();
  }

  /** Hidden layer sizes, e.g. {@code setLayers(64, 32)}: dense ReLU layers, then the output. */
  public E setLayers(int... units) {
    set(layers, units);
    return self();
  }

  public E setOptimizer(String type) {
    set(optimizer, type);
    return self();
  }

  public E setLearningRate(double value) {
    set(learningRate, value);
    return self();
  }

  public E setEpochs(int value) {
    set(epochs, value);
    return self();
  }

  public E setBatchSize(int value) {
    set(batchSize, value);
    return self();
  }

  public E setWorkers(int value) {
    set(workers, value);
    return self();
  }

  public E setSync(String value) {
    set(sync, value);
    return self();
  }

  public E setSeed(long value) {
    set(seed, value);
    return self();
  }

  public E setValidationFraction(double value) {
    set(validationFraction, value);
    return self();
  }

  public E setRunDir(String dir) {
    set(runDir, dir == null ? "" : dir);
    return self();
  }

  public String getFeaturesCol() {
    return getOrDefault(featuresCol);
  }

  public String getLabelCol() {
    return getOrDefault(labelCol);
  }

  public String getPredictionCol() {
    return getOrDefault(predictionCol);
  }

  public String getConfig() {
    return getOrDefault(config);
  }

  public String getConfigFile() {
    return getOrDefault(configFile);
  }

  /** The hidden layer sizes: the Param, else the config's hidden layers' units. */
  public int[] getLayers() {
    if (isSet(layers)) {
      return getOrDefault(layers);
    }
    List<LayerConfig> all = baseConfig().model().layers();
    return all.subList(0, all.size() - 1).stream().mapToInt(LayerConfig::units).toArray();
  }

  public String getOptimizer() {
    return isSet(optimizer)
        ? getOrDefault(optimizer)
        : baseConfig().optimizer().type().configName();
  }

  public double getLearningRate() {
    return isSet(learningRate)
        ? (Double) getOrDefault(learningRate)
        : baseConfig().optimizer().learningRate();
  }

  public int getEpochs() {
    return isSet(epochs) ? (Integer) getOrDefault(epochs) : baseConfig().training().epochs();
  }

  public int getBatchSize() {
    return isSet(batchSize)
        ? (Integer) getOrDefault(batchSize)
        : baseConfig().training().batchSize();
  }

  public int getWorkers() {
    return isSet(workers) ? (Integer) getOrDefault(workers) : baseConfig().cluster().workers();
  }

  public String getSync() {
    return isSet(sync) ? getOrDefault(sync) : baseConfig().cluster().sync().configName();
  }

  public long getSeed() {
    return isSet(seed) ? (Long) getOrDefault(seed) : baseConfig().training().seed();
  }

  public double getValidationFraction() {
    return (Double) getOrDefault(validationFraction);
  }

  public String getRunDir() {
    return getOrDefault(runDir);
  }

  // ---- the config ----

  /** The config text and its name: {@link #configFile} if set, else {@link #config}. */
  private String[] configText() {
    String file = getConfigFile();
    if (file.isEmpty()) {
      return new String[] {getConfig(), "Param config"};
    }
    org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(file);
    try {
      FileSystem fs = path.getFileSystem(new org.apache.hadoop.conf.Configuration());
      try (InputStream in = fs.open(path)) {
        return new String[] {
          new String(in.readAllBytes(), StandardCharsets.UTF_8), "Param configFile " + file
        };
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(
          uid + ": Param configFile: cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /** The typed Params that are set, as config overrides. */
  List<String> typedOverrides() {
    List<String> out = new ArrayList<>();
    if (isSet(layers)) {
      StringBuilder sb = new StringBuilder("model.layers=[");
      for (int u : getOrDefault(layers)) {
        sb.append("{type: dense, units: ").append(u).append(", activation: relu}, ");
      }
      // sized from the data in fit
      sb.append("{type: output, units: 1, activation: softmax, loss: cross_entropy}]");
      out.add(sb.toString());
    }
    if (isSet(optimizer)) {
      out.add("optimizer.type=" + getOrDefault(optimizer));
    }
    if (isSet(learningRate)) {
      out.add("optimizer.learningRate=" + getOrDefault(learningRate));
    }
    if (isSet(epochs)) {
      out.add("training.epochs=" + getOrDefault(epochs));
    }
    if (isSet(batchSize)) {
      out.add("training.batchSize=" + getOrDefault(batchSize));
    }
    if (isSet(workers)) {
      out.add("cluster.workers=" + getOrDefault(workers));
    }
    if (isSet(sync)) {
      out.add("cluster.sync=" + getOrDefault(sync));
    }
    if (isSet(seed)) {
      out.add("training.seed=" + getOrDefault(seed));
    }
    return out;
  }

  /** The config text with the typed Params applied (no data keys yet). */
  SpindleConfig baseConfig() {
    String[] text = configText();
    return parse(text[0], text[1], typedOverrides());
  }

  private SpindleConfig parse(String yaml, String source, List<String> overrides) {
    try {
      return ConfigLoader.parse(yaml, source, overrides);
    } catch (ConfigException e) {
      throw new IllegalArgumentException(uid + ": " + source + ": " + e.getMessage(), e);
    }
  }

  /** A YAML scalar holding {@code s} exactly. */
  static String quote(String s) {
    return "'" + s.replace("'", "''") + "'";
  }

  // ---- schema ----

  @Override
  public StructType transformSchema(StructType schema) {
    String features = getFeaturesCol();
    String label = getLabelCol();
    try {
      FeatureColumn.check(schema, features, "the DataFrame");
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(uid + ": Param featuresCol: " + e.getMessage(), e);
    }
    if (!Arrays.asList(schema.fieldNames()).contains(label)) {
      throw new IllegalArgumentException(
          uid
              + ": Param labelCol: the DataFrame has no column '"
              + label
              + "'; it has "
              + Arrays.toString(schema.fieldNames()));
    }
    if (!(schema.apply(label).dataType() instanceof NumericType)) {
      throw new IllegalArgumentException(
          uid
              + ": Param labelCol: column '"
              + label
              + "' must be numeric, found "
              + schema.apply(label).dataType().simpleString());
    }
    return SpindleModel.outputSchema(schema, outputColumns());
  }

  /** The prediction, probability and raw prediction columns this estimator's model adds. */
  abstract SpindleModel.Columns outputColumns();

  // ---- fit ----

  @Override
  public SpindleModel fit(Dataset<?> dataset) {
    transformSchema(dataset.schema());
    SparkSession spark = dataset.sparkSession();
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Dataset<Row> df = dataset.toDF();
    int classes = regression() ? 1 : numClasses(df);
    Dataset<Row> train = df;
    Dataset<Row> validation = df;
    double fraction = getValidationFraction();
    SpindleConfig base = baseConfig();
    if (fraction > 0) {
      Dataset<Row>[] parts =
          df.randomSplit(new double[] {1 - fraction, fraction}, base.training().seed());
      train = parts[0];
      validation = parts[1];
    }
    String view = "spindle_fit_" + uid.replaceAll("[^A-Za-z0-9_]", "_") + "_" + System.nanoTime();
    train.createOrReplaceGlobalTempView(view + "_train");
    validation.createOrReplaceGlobalTempView(view + "_validation");
    String db = spark.conf().get("spark.sql.globalTempDatabase", "global_temp");
    Path dir = runDirectory();
    try {
      List<String> overrides = new ArrayList<>(typedOverrides());
      int last = base.model().layers().size() - 1;
      overrides.add("model.layers[" + last + "].units=" + classes);
      if (regression()) {
        overrides.add("model.layers[" + last + "].activation=identity");
        overrides.add("model.layers[" + last + "].loss=mse");
      }
      overrides.addAll(
          List.of(
              "data.dataset=" + quote("dataframe"),
              "data.format=table",
              "data.tableFormat=table",
              "data.path=" + quote(db + "." + view + "_train"),
              "data.testPath=" + quote(db + "." + view + "_validation"),
              "data.featureColumn=" + quote(getFeaturesCol()),
              "data.labelColumn=" + quote(getLabelCol()),
              "data.task=" + (regression() ? "regression" : "classification"),
              "data.numClasses=" + (regression() ? 0 : classes)));
      String[] text = configText();
      SpindleConfig config = parse(text[0], text[1], overrides);
      try {
        ResourcePlan.of(config, sc.getConf()).check();
      } catch (ConfigException e) {
        throw new IllegalArgumentException(uid + ": Param workers: " + e.getMessage(), e);
      }
      RunOutput output = new RunOutput(dir);
      Map<String, Object> summary =
          TrainJob.run(sc, config, Map.of(), output, new PrintStream(System.out, true));
      org.deeplearning4j.nn.api.Model net;
      try {
        net =
            TrainedModel.restore(
                java.nio.file.Files.readAllBytes(dir.resolve("model.zip")),
                dir.resolve("model.zip").toString());
      } catch (IOException e) {
        throw new UncheckedIOException(
            "cannot read the trained model " + dir.resolve("model.zip") + ": " + e, e);
      }
      TrainedModel trained =
          TrainedModel.of(net, config, dir.toString(), dir.resolve("model.zip").toString());
      SpindleTrainingSummary trainingSummary =
          new SpindleTrainingSummary(
              dir, summary, fraction > 0 ? "validation split" : "training rows");
      SpindleModel model =
          new SpindleModel(
              uid, // as MLlib's models: the estimator's uid
              trained.network(),
              regression(),
              ConfigLoader.toYaml(config),
              trainingSummary);
      copyValues(model, extractParamMap());
      model.setParent(this);
      return model;
    } finally {
      spark.catalog().dropGlobalTempView(view + "_train");
      spark.catalog().dropGlobalTempView(view + "_validation");
    }
  }

  private int numClasses(Dataset<Row> df) {
    Row r =
        df.agg(
                org.apache.spark.sql.functions.max(getLabelCol()),
                org.apache.spark.sql.functions.min(getLabelCol()))
            .first();
    if (r.isNullAt(0)) {
      throw new IllegalArgumentException(
          uid + ": Param labelCol: column '" + getLabelCol() + "' holds no labels");
    }
    double max = ((Number) r.get(0)).doubleValue();
    double min = ((Number) r.get(1)).doubleValue();
    if (min < 0 || max != Math.rint(max) || max > Integer.MAX_VALUE - 1) {
      throw new IllegalArgumentException(
          uid
              + ": Param labelCol: column '"
              + getLabelCol()
              + "' must hold class indices 0, 1, ..., found values in ["
              + min
              + ", "
              + max
              + "]");
    }
    return Math.max(2, (int) max + 1);
  }

  private Path runDirectory() {
    try {
      if (!getRunDir().isEmpty()) {
        Path parent = Path.of(getRunDir());
        Files.createDirectories(parent);
        return Files.createTempDirectory(parent, "fit-");
      }
      return Files.createTempDirectory("spindle-fit-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the run directory: " + e, e);
    }
  }
}
