package io.spindle.driver.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.evaluation.BinaryClassificationEvaluator;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.evaluation.RegressionEvaluator;
import org.apache.spark.ml.feature.StandardScaler;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.tuning.CrossValidator;
import org.apache.spark.ml.tuning.CrossValidatorModel;
import org.apache.spark.ml.tuning.ParamGridBuilder;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark ML side end to end, in Spark's local mode: a Pipeline with SpindleClassifier fitted,
 * evaluated with MLlib's evaluators, saved, and loaded in a fresh SparkSession with identical
 * predictions; CrossValidator picking the learning rate; SpindleRegressor to a stated RMSE.
 */
class SpindlePipelineTest {
  static final StructType RAW =
      new StructType()
          .add("id", DataTypes.LongType)
          .add("a", DataTypes.DoubleType)
          .add("b", DataTypes.DoubleType)
          .add("c", DataTypes.DoubleType)
          .add("label", DataTypes.DoubleType);

  SparkSession spark;

  static SparkSession newSession() {
    return SparkSession.builder()
        .master("local[2]")
        .appName("SpindlePipelineTest")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate();
  }

  @BeforeEach
  void start() {
    spark = newSession();
    spark.sparkContext().setLogLevel("WARN");
  }

  @AfterEach
  void stop() {
    SparkSession.active().stop();
  }

  /**
   * Rows (id, a, b, c, label) with features on scales 100, 0.01 and 1; the class is the sign of a
   * linear function of the standardised features, so a scaler matters and a small MLP separates it.
   */
  static String classificationTable(SparkSession spark, Path dir, int rows, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    List<Row> data = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      double a = rng.nextDouble(-1, 1);
      double b = rng.nextDouble(-1, 1);
      double c = rng.nextDouble(-1, 1);
      double label = a - 0.6 * b + 0.8 * c > 0 ? 1 : 0;
      data.add(RowFactory.create((long) i, 100 * a + 50, 0.01 * b, c, label));
    }
    String path = dir.resolve("table-" + seed + ".parquet").toString();
    spark.createDataFrame(data, RAW).repartition(2).write().parquet(path);
    return path;
  }

  static Pipeline pipeline(SpindleClassifier clf) {
    VectorAssembler assembler =
        new VectorAssembler().setInputCols(new String[] {"a", "b", "c"}).setOutputCol("raw");
    StandardScaler scaler =
        new StandardScaler().setInputCol("raw").setOutputCol("features").setWithMean(true);
    return new Pipeline().setStages(new PipelineStage[] {assembler, scaler, clf});
  }

  @Test
  void pipelineFitsEvaluatesSavesAndLoadsInAFreshSessionWithIdenticalPredictions(@TempDir Path tmp)
      throws Exception {
    String trainPath = classificationTable(spark, tmp, 1024, 1);
    String testPath = classificationTable(spark, tmp, 256, 2);
    SpindleClassifier clf =
        new SpindleClassifier()
            .setLayers(16)
            .setLearningRate(0.02)
            .setEpochs(6)
            .setBatchSize(64)
            .setRunDir(tmp.resolve("runs").toString());
    PipelineModel model = pipeline(clf).fit(spark.read().parquet(trainPath));
    Dataset<Row> scored = model.transform(spark.read().parquet(testPath));
    assertEquals(
        List.of(
            "id",
            "a",
            "b",
            "c",
            "label",
            "raw",
            "features",
            "rawPrediction",
            "probability",
            "prediction"),
        List.of(scored.columns()));
    double accuracy =
        new MulticlassClassificationEvaluator().setMetricName("accuracy").evaluate(scored);
    double auc = new BinaryClassificationEvaluator().setMetricName("areaUnderROC").evaluate(scored);
    System.out.printf("[pipeline] test accuracy %.4f, AUC %.4f%n", accuracy, auc);
    assertTrue(accuracy > 0.93, "test accuracy " + accuracy);
    assertTrue(auc > 0.98, "AUC " + auc);

    // the training run behind the model: summary, metrics, report
    SpindleModel spindle = (SpindleModel) model.stages()[2];
    SpindleTrainingSummary summary = spindle.summary();
    assertEquals(6, summary.epochs());
    assertEquals(6 * 16, summary.steps());
    assertEquals("collective", summary.asMap().get("sync"));
    assertTrue(summary.accuracy() > 0.9, summary.toString());
    assertEquals(6, summary.epochRecords().size());
    assertTrue(Files.exists(summary.runDir().resolve("report.html")));
    assertTrue(Files.isDirectory(summary.runDir().resolve("checkpoints")));
    assertEquals(3, spindle.numFeatures());
    assertEquals(2, spindle.numClasses());

    List<Row> before = predictions(scored);
    String saved = tmp.resolve("pipeline").toString();
    model.write().save(saved);
    spark.stop();

    spark = newSession();
    PipelineModel loaded = PipelineModel.load(saved);
    List<Row> after = predictions(loaded.transform(spark.read().parquet(testPath)));
    assertEquals(before.size(), after.size());
    for (int i = 0; i < before.size(); i++) {
      Row b = before.get(i);
      Row a = after.get(i);
      assertEquals(b.getLong(0), a.getLong(0));
      assertEquals(b.getDouble(1), a.getDouble(1), "prediction of row " + b.getLong(0));
      assertArrayEquals(((Vector) b.get(2)).toArray(), ((Vector) a.get(2)).toArray());
      assertArrayEquals(((Vector) b.get(3)).toArray(), ((Vector) a.get(3)).toArray());
    }
    SpindleModel reloaded = (SpindleModel) loaded.stages()[2];
    assertEquals(spindle.uid(), reloaded.uid());
    assertArrayEquals(spindle.parameters(), reloaded.parameters());
    assertEquals(summary.accuracy(), reloaded.summary().accuracy());
  }

  private static List<Row> predictions(Dataset<Row> scored) {
    return scored
        .select("id", "prediction", "probability", "rawPrediction")
        .orderBy("id")
        .collectAsList();
  }

  @Test
  void crossValidatorPicksTheClearlyBetterLearningRate(@TempDir Path tmp) {
    String trainPath = classificationTable(spark, tmp, 768, 3);
    SpindleClassifier clf =
        new SpindleClassifier()
            .setLayers(16)
            .setEpochs(3)
            .setBatchSize(64)
            .setRunDir(tmp.resolve("runs").toString());
    // 1e-5 moves Adam's weights by about 1e-5 per step: 36 steps leave the network at chance;
    // 0.05 separates the classes within an epoch
    ParamMap[] grid =
        new ParamGridBuilder().addGrid(clf.learningRate(), new double[] {1e-5, 0.05}).build();
    CrossValidator cv =
        new CrossValidator()
            .setEstimator(pipeline(clf))
            .setEstimatorParamMaps(grid)
            .setEvaluator(new MulticlassClassificationEvaluator().setMetricName("accuracy"))
            .setNumFolds(2)
            .setSeed(7);
    CrossValidatorModel model = cv.fit(spark.read().parquet(trainPath));
    double[] metrics = model.avgMetrics();
    System.out.printf(
        "[cv] mean accuracy: rate 1e-5 %.4f, rate 0.05 %.4f%n", metrics[0], metrics[1]);
    assertTrue(
        metrics[1] > metrics[0] + 0.2, "accuracy per rate: " + List.of(metrics[0], metrics[1]));
    PipelineModel best = (PipelineModel) model.bestModel();
    SpindleClassifier bestEstimator =
        (SpindleClassifier) ((SpindleModel) best.stages()[2]).parent();
    assertEquals(0.05, bestEstimator.getLearningRate());
  }

  @Test
  void regressorReachesTheStatedRmseAndRegressionEvaluatorReadsIt(@TempDir Path tmp) {
    // y = 2 a - b + 0.5 c^2 + 1 + noise(sd 0.05), a, b, c uniform in [-1, 1]
    SplittableRandom rng = new SplittableRandom(11);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 1536; i++) {
      double a = rng.nextDouble(-1, 1);
      double b = rng.nextDouble(-1, 1);
      double c = rng.nextDouble(-1, 1);
      double noise =
          0.05
              * Math.sqrt(-2 * Math.log(rng.nextDouble(1e-12, 1)))
              * Math.cos(2 * Math.PI * rng.nextDouble());
      rows.add(RowFactory.create((long) i, a, b, c, 2 * a - b + 0.5 * c * c + 1 + noise));
    }
    Dataset<Row> all =
        new VectorAssembler()
            .setInputCols(new String[] {"a", "b", "c"})
            .setOutputCol("features")
            .transform(spark.createDataFrame(rows, RAW));
    Dataset<Row> train = all.filter("id < 1280");
    Dataset<Row> test = all.filter("id >= 1280");
    SpindleRegressor reg =
        new SpindleRegressor()
            .setLayers(32)
            .setLearningRate(0.01)
            .setEpochs(25)
            .setBatchSize(64)
            .setSync("collective")
            .setValidationFraction(0.1)
            .setRunDir(tmp.toString());
    SpindleModel model = reg.fit(train);
    assertTrue(model.isRegression());
    Dataset<Row> scored = model.transform(test);
    assertEquals(
        List.of("id", "a", "b", "c", "label", "features", "prediction"), List.of(scored.columns()));
    double rmse = new RegressionEvaluator().setMetricName("rmse").evaluate(scored);
    System.out.printf("[regression] test RMSE %.4f%n", rmse);
    // the target's standard deviation is ~1.3; the noise floor is 0.05
    assertTrue(rmse < 0.12, "test RMSE " + rmse);
    assertEquals("validation split", model.summary().evaluatedOn());
  }
}
