package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DataFormatException;
import io.spindle.data.Example;
import io.spindle.driver.RunOutput;
import io.spindle.driver.SparkLocal;
import io.spindle.driver.job.TrainJob;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Spark tables as data sets: Parquet regression trains; bad rows and missing columns fail. */
class TableDatasetTest {
  @RegisterExtension
  static final SparkLocal SPARK =
      new SparkLocal("local[2]", java.util.Map.of("spark.kryo.registrationRequired", "false"));

  static final StructType ARRAY_SCHEMA =
      new StructType()
          .add("x", DataTypes.createArrayType(DataTypes.DoubleType))
          .add("y", DataTypes.DoubleType);

  /** The storage struct of ml.linalg Vector, as a Parquet file written with Vectors holds it. */
  static final StructType VECTOR_SCHEMA =
      new StructType()
          .add(
              "features",
              new StructType()
                  .add("type", DataTypes.ByteType)
                  .add("size", DataTypes.IntegerType)
                  .add("indices", DataTypes.createArrayType(DataTypes.IntegerType))
                  .add("values", DataTypes.createArrayType(DataTypes.DoubleType)))
          .add("label", DataTypes.IntegerType);

  /** y = 2 x0 - x1 + 0.5 x2 + 1 exactly, x uniform in [-1, 1]. */
  static String linearTable(Path dir, String name, int rows, long seed, boolean nanRow) {
    return linearTable(dir, name, rows, seed, nanRow, 2);
  }

  static String linearTable(Path dir, String name, int rows, long seed, boolean nanRow, int files) {
    SplittableRandom rng = new SplittableRandom(seed);
    List<Row> data = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      double[] x = {rng.nextDouble(-1, 1), rng.nextDouble(-1, 1), rng.nextDouble(-1, 1)};
      if (nanRow && i == 7) {
        x[1] = Double.NaN;
      }
      double y = 2 * x[0] - x[1] + 0.5 * x[2] + 1;
      data.add(RowFactory.create(List.of(x[0], x[1], x[2]), y));
    }
    String path = dir.resolve(name).toUri().toString();
    spark().createDataFrame(data, ARRAY_SCHEMA).coalesce(2).write().parquet(path);
    return path;
  }

  static SparkSession spark() {
    return SparkSession.builder().sparkContext(SPARK.sc().sc()).getOrCreate();
  }

  @Test
  void linearRegressionOnParquetTrainsBelowTheLossBound(@TempDir Path tmp) throws Exception {
    String train = linearTable(tmp, "train.parquet", 512, 1, false);
    String test = linearTable(tmp, "test.parquet", 128, 2, false);
    SpindleConfig config =
        ConfigLoader.load(
            null,
            List.of(
                "data.format=table",
                "data.dataset=linear",
                "data.path=" + train,
                "data.testPath=" + test,
                "data.featureColumn=x",
                "data.labelColumn=y",
                "data.task=regression",
                "model.layers=[{type: output, units: 1, activation: identity, loss: mse}]",
                "optimizer.learningRate=0.05",
                "training.epochs=12",
                "training.batchSize=32",
                // one Spark job per epoch keeps the test short on a loaded machine
                "cluster.sync=parameter_averaging",
                "cluster.averagingSteps=16"));
    Map<String, Object> summary =
        TrainJob.run(
            SPARK.sc(),
            config,
            DatasetFiles.fetch(config),
            new RunOutput(tmp.resolve("run")),
            new PrintStream(new ByteArrayOutputStream(), true, "UTF-8"));
    double loss = (Double) summary.get("test_loss");
    // the target variance is about 1.75; a fitted linear model reaches ~0
    assertTrue(loss < 1e-3, "test MSE " + loss + " should be below 1e-3");
    assertEquals(192L, ((Number) summary.get("steps")).longValue());
  }

  @Test
  void vectorColumnsAreReadDenseAndSparse(@TempDir Path tmp) {
    List<Row> rows =
        List.of(
            RowFactory.create(RowFactory.create((byte) 1, null, null, List.of(1.0, 2.0, 3.0)), 0),
            RowFactory.create(RowFactory.create((byte) 0, 3, List.of(2), List.of(5.0)), 2));
    String path = tmp.resolve("vec.parquet").toUri().toString();
    spark().createDataFrame(rows, VECTOR_SCHEMA).coalesce(1).write().parquet(path);
    try (DistributedDataset d =
        DatasetLoader.load(
            SPARK.sc(),
            FileFormatsTest.data("format=table", "path=" + path, "testPath=" + path),
            path,
            2,
            2,
            1)) {
      assertEquals(3, d.numClasses(), "largest label + 1");
      List<Example> e = FileFormatsTest.trainExamples(d);
      assertArrayEquals(new float[] {1, 2, 3}, e.get(0).features());
      assertEquals(0, e.get(0).label());
      assertArrayEquals(new float[] {0, 0, 5}, e.get(1).features());
      assertEquals(2, e.get(1).label());
    }
  }

  @Test
  void missingColumnNamesTheTableAndColumn(@TempDir Path tmp) {
    String path = linearTable(tmp, "t.parquet", 20, 1, false);
    DataFormatException e =
        assertThrows(
            DataFormatException.class,
            () ->
                DatasetLoader.load(
                    SPARK.sc(),
                    FileFormatsTest.data(
                        "format=table",
                        "path=" + path,
                        "testPath=" + path,
                        "featureColumn=features",
                        "labelColumn=y",
                        "task=regression"),
                    path,
                    4,
                    2,
                    1));
    assertTrue(e.getMessage().contains("missing column 'features'"), e.getMessage());
    assertTrue(e.getMessage().contains("t.parquet"), e.getMessage());
  }

  @Test
  void nanFeatureNamesTheRowOrIsSkipped(@TempDir Path tmp) {
    String path = linearTable(tmp, "nan.parquet", 20, 1, true, 1);
    String good = linearTable(tmp, "good.parquet", 20, 3, false);
    Exception e =
        assertThrows(
            Exception.class,
            () ->
                DatasetLoader.load(
                    SPARK.sc(),
                    FileFormatsTest.data(
                        "format=table",
                        "path=" + path,
                        "testPath=" + good,
                        "featureColumn=x",
                        "labelColumn=y",
                        "task=regression"),
                    path,
                    4,
                    2,
                    1));
    String msg = FileFormatsTest.rootMessage(e);
    // the row as Spark reads the table (coalesce may have reordered the written rows)
    List<Row> read = spark().read().parquet(path).collectAsList();
    int nanRow = -1;
    for (int i = 0; i < read.size(); i++) {
      if (Double.isNaN(((Number) read.get(i).getList(0).get(1)).doubleValue())) {
        nanRow = i;
      }
    }
    assertTrue(msg.contains("nan.parquet (file "), msg);
    assertTrue(msg.contains(".parquet) row " + nanRow + ": feature 1 of 'x' is NaN"), msg);
    try (DistributedDataset d =
        DatasetLoader.load(
            SPARK.sc(),
            FileFormatsTest.data(
                "format=table",
                "path=" + path,
                "testPath=" + good,
                "featureColumn=x",
                "labelColumn=y",
                "task=regression",
                "skipBadRecords=true"),
            path,
            4,
            2,
            1)) {
      assertEquals(19, d.numTrain());
      assertEquals(1, d.skippedRecords());
    }
  }
}
