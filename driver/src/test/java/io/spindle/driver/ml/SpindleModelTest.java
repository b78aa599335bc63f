package io.spindle.driver.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DataFormatException;
import io.spindle.model.ModelFactory;
import io.spindle.worker.BatchScorer;
import io.spindle.worker.ScoringNetwork;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.spark.SparkException;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SpindleModel's mechanics and its errors, on a small untrained network (no training run). */
class SpindleModelTest {
  static SparkSession spark;
  static final String LAYERS =
      "model.layers=[{type: dense, units: 8, activation: relu},"
          + " {type: output, units: 2, activation: softmax, loss: cross_entropy}]";

  @BeforeAll
  static void start() {
    spark = SpindlePipelineTest.newSession();
    spark.sparkContext().setLogLevel("WARN");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  static SpindleModel model(int features, String layers) {
    SpindleConfig config = ConfigLoader.parse("", "test", List.of(layers));
    MultiLayerNetwork net = ModelFactory.createStock(config.model(), features, 5L);
    return new SpindleModel(
        "SpindleModel_test",
        ScoringNetwork.of(net, "test network"),
        false,
        ConfigLoader.toYaml(config),
        null);
  }

  static Dataset<Row> vectors(int rows, int size, int partitions) {
    SplittableRandom rng = new SplittableRandom(3);
    List<Row> data = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      double[] x = new double[size];
      for (int j = 0; j < size; j++) {
        x[j] = rng.nextDouble(-1, 1);
      }
      List<Double> list = new ArrayList<>();
      for (double v : x) {
        list.add(v);
      }
      data.add(RowFactory.create((long) i, Vectors.dense(x), list));
    }
    StructType schema =
        new StructType()
            .add("id", DataTypes.LongType)
            .add("features", SQLDataTypes.VectorType())
            .add("array", DataTypes.createArrayType(DataTypes.DoubleType));
    return spark.createDataFrame(data, schema).repartition(partitions);
  }

  @Test
  void missingColumnIsRefusedNamingTheParamAndColumn() {
    SpindleModel m = model(3, LAYERS).setFeaturesCol("nope");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> m.transform(vectors(4, 3, 1)));
    assertTrue(
        e.getMessage().contains("Param featuresCol") && e.getMessage().contains("column 'nope'"),
        e.getMessage());
  }

  @Test
  void wrongVectorSizeFailsNamingTheColumnAndTheSizes() {
    SpindleModel m = model(3, LAYERS);
    SparkException e =
        assertThrows(SparkException.class, () -> m.transform(vectors(4, 5, 1)).collectAsList());
    Throwable root = e;
    while (root.getCause() != null && !(root instanceof DataFormatException)) {
      root = root.getCause();
    }
    String msg = root.getMessage();
    assertTrue(
        msg.contains("column 'features'")
            && msg.contains("has 5 features")
            && msg.contains("takes 3"),
        msg);
  }

  @Test
  void arrayColumnsScoreLikeVectorsAndEveryProbabilityRowSumsToOne() {
    SpindleModel m = model(3, LAYERS);
    Dataset<Row> df = vectors(64, 3, 2);
    List<Row> byVector = m.transform(df).orderBy("id").collectAsList();
    List<Row> byArray =
        model(3, LAYERS)
            .setFeaturesCol("array")
            .setRawPredictionCol("")
            .transform(df.drop("features"))
            .orderBy("id")
            .collectAsList();
    assertEquals(64, byArray.size());
    for (int i = 0; i < 64; i++) {
      Vector p = (Vector) byVector.get(i).getAs("probability");
      assertEquals(1.0, p.apply(0) + p.apply(1), 1e-6);
      Vector raw = (Vector) byVector.get(i).getAs("rawPrediction");
      assertEquals(Math.log(p.apply(1)), raw.apply(1), 1e-5);
      assertArrayEquals(p.toArray(), ((Vector) byArray.get(i).getAs("probability")).toArray());
      assertEquals(p.argmax(), (double) byVector.get(i).getAs("prediction"));
    }
    assertEquals(
        List.of("id", "array", "probability", "prediction"),
        List.of(
            m.copy(new org.apache.spark.ml.param.ParamMap())
                .setRawPredictionCol("")
                .setFeaturesCol("array")
                .transform(df.drop("features"))
                .columns()));
  }

  @Test
  void networksAreBuiltOncePerTaskSlotAndReusedAcrossPartitionsAndCalls() {
    SpindleModel m = model(3, LAYERS);
    Dataset<Row> df = vectors(4000, 3, 8);
    df.cache().count();
    int before = BatchScorer.networksBuilt();
    assertEquals(4000, m.transform(df).count());
    assertEquals(4000, m.transform(df).filter("prediction >= 0").count());
    int built = BatchScorer.networksBuilt() - before;
    // 16 partitions scored in a JVM with 2 task slots
    assertTrue(built >= 1 && built <= 2, "networks built: " + built);
  }

  @Test
  void savedModelLoadsAndAModelZipOfAnotherArchitectureIsRefusedNamingTheFile(@TempDir Path tmp)
      throws Exception {
    SpindleModel m = model(3, LAYERS).setBatchSize(7);
    String path = tmp.resolve("model").toString();
    m.write().save(path);
    SpindleModel loaded = SpindleModel.load(path);
    assertEquals(7, loaded.getBatchSize());
    assertArrayEquals(m.parameters(), loaded.parameters());
    assertEquals(3, loaded.numFeatures());
    // overwrite asks first, like every MLWriter
    assertThrows(java.io.IOException.class, () -> m.write().save(path));
    m.write().overwrite().save(path);

    MultiLayerNetwork other =
        ModelFactory.createStock(
            ConfigLoader.parse(
                    "",
                    "test",
                    List.of(
                        "model.layers=[{type: dense, units: 16, activation: relu},"
                            + " {type: output, units: 2, activation: softmax, loss:"
                            + " cross_entropy}]"))
                .model(),
            3,
            1L);
    Path zip = tmp.resolve("model/data/model.zip");
    Files.deleteIfExists(tmp.resolve("model/data/.model.zip.crc")); // Hadoop's local checksum
    try (OutputStream out = Files.newOutputStream(zip)) {
      ModelSerializer.writeModel(other, out, false);
    }
    DataFormatException e = assertThrows(DataFormatException.class, () -> SpindleModel.load(path));
    assertTrue(
        e.getMessage().contains("model/data/model.zip")
            && e.getMessage().contains("does not match the run's config.yaml"),
        e.getMessage());
  }

  @Test
  void paramsAreValidatedNamingTheParam() {
    SpindleClassifier c = new SpindleClassifier();
    IllegalArgumentException rate =
        assertThrows(IllegalArgumentException.class, () -> c.setLearningRate(-0.1));
    assertTrue(rate.getMessage().contains("learningRate"), rate.getMessage());
    IllegalArgumentException sync =
        assertThrows(IllegalArgumentException.class, () -> c.setSync("allreduce"));
    assertTrue(sync.getMessage().contains("sync"), sync.getMessage());
    IllegalArgumentException config =
        assertThrows(
            IllegalArgumentException.class, () -> c.setConfig("optimizer:\n  learningRate: -1\n"));
    assertTrue(
        config.getMessage().contains("Param config")
            && config.getMessage().contains("learningRate"),
        config.getMessage());
    IllegalArgumentException label =
        assertThrows(
            IllegalArgumentException.class,
            () -> new SpindleClassifier().setLabelCol("y").fit(vectors(8, 3, 1)));
    assertTrue(
        label.getMessage().contains("Param labelCol") && label.getMessage().contains("'y'"),
        label.getMessage());
    // unset typed Params read the config
    SpindleClassifier fromYaml = new SpindleClassifier().setConfig("training:\n  epochs: 3\n");
    assertEquals(3, fromYaml.getEpochs());
    assertEquals(5, fromYaml.setEpochs(5).getEpochs()); // a set Param wins over the config
  }

  @Test
  void estimatorSavesAndLoadsItsParams(@TempDir Path tmp) throws Exception {
    SpindleClassifier c =
        new SpindleClassifier().setLayers(12, 6).setLearningRate(0.003).setSync("gradient_sharing");
    String path = tmp.resolve("clf").toString();
    c.save(path);
    SpindleClassifier loaded = SpindleClassifier.load(path);
    assertEquals(c.uid(), loaded.uid());
    assertArrayEquals(new int[] {12, 6}, loaded.getLayers());
    assertEquals(0.003, loaded.getLearningRate());
    assertEquals("gradient_sharing", loaded.getSync());
    assertEquals(c.getEpochs(), loaded.getEpochs());
  }
}
