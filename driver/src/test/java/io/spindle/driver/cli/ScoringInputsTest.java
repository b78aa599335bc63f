package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import io.spindle.model.ModelFactory;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * predict and evaluate on the other inputs: CIFAR binaries (a bare model.zip), image folders with
 * and without class folders (a run directory whose config gives the image transform), and a
 * regression table (RMSE checked against DL4J's own output).
 */
class ScoringInputsTest {
  @TempDir static Path tmp;
  static final ByteArrayOutputStream ERR = new ByteArrayOutputStream();

  /** Runs {@code work} in a Spark session of its own (the CLI's context must not overlap it). */
  static <T> T withSpark(java.util.function.Function<SparkSession, T> work) {
    SparkSession spark =
        SparkSession.builder()
            .master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate();
    try {
      return work.apply(spark);
    } finally {
      spark.stop();
    }
  }

  static int cli(String... args) {
    ERR.reset();
    return SpindleCli.run(
        args,
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(ERR, true, StandardCharsets.UTF_8));
  }

  static String err() {
    return ERR.toString(StandardCharsets.UTF_8);
  }

  static SpindleConfig config(String... overrides) {
    return ConfigLoader.parse("", "test", List.of(overrides));
  }

  static List<Row> read(Path dir) {
    return withSpark(spark -> spark.read().parquet(dir.toString()).collectAsList());
  }

  @Test
  void cifarBinariesScoreWithABareModelZip() throws Exception {
    Path data = tmp.resolve("cifar");
    Files.createDirectories(data);
    byte[] records = new byte[5 * 3073];
    SplittableRandom rng = new SplittableRandom(4);
    for (int r = 0; r < 5; r++) {
      records[r * 3073] = (byte) (r * 2);
      for (int i = 1; i < 3073; i++) {
        records[r * 3073 + i] = (byte) rng.nextInt(256);
      }
    }
    Files.write(data.resolve("test_batch.bin"), records);
    Files.write(data.resolve("data_batch_1.bin"), new byte[3073]); // not the test batch
    Path zip = tmp.resolve("cifar-model.zip");
    Path modelDir = tmp.resolve("cifar-model");
    new RunOutput(modelDir)
        .writeModel(
            ModelFactory.createStock(
                config("model.layers[0].units=16", "model.layers[1].units=8").model(), 3072, 2L));
    Files.move(modelDir.resolve("model.zip"), zip);
    Path out = tmp.resolve("cifar.parquet");
    assertEquals(
        0,
        cli(
            "predict",
            "--model",
            zip.toString(),
            "--input",
            data.toString(),
            "--output",
            out.toString()),
        err());
    List<Row> rows = read(out);
    assertEquals(5, rows.size());
    for (Row r : rows) {
      long id = r.getLong(r.fieldIndex("id"));
      assertEquals(id * 2.0, r.getDouble(r.fieldIndex("label")), "label of record " + id);
      assertEquals(10, r.getList(r.fieldIndex("probability")).size());
    }
  }

  @Test
  void imageFoldersScoreWithTheRunsTransformAndPathIds() throws Exception {
    Path images = tmp.resolve("images");
    for (String cls : List.of("cat", "dog")) {
      Files.createDirectories(images.resolve(cls));
      for (int i = 0; i < 2; i++) {
        BufferedImage img = new BufferedImage(12, 10, BufferedImage.TYPE_INT_RGB);
        img.setRGB(3, 4, cls.equals("cat") ? 0xff0000 : 0x00ff00);
        ImageIO.write(img, "png", images.resolve(cls).resolve("img" + i + ".png").toFile());
      }
    }
    SpindleConfig config =
        config(
            "data.format=image_folder",
            "data.dataset=pets",
            "data.path=" + images,
            "data.imageSize=8",
            "data.imageResize=8",
            "model.layers=[{type: dense, units: 4, activation: relu},"
                + " {type: output, units: 2, activation: softmax, loss: cross_entropy}]");
    Path run = tmp.resolve("image-run");
    RunOutput output = new RunOutput(run);
    output.writeConfig(config);
    output.writeModel(ModelFactory.createStock(config.model(), 3 * 8 * 8, 3L));
    Path out = tmp.resolve("images.parquet");
    assertEquals(
        0,
        cli(
            "predict",
            "--model",
            run.toString(),
            "--input",
            images.toString(),
            "--output",
            out.toString()),
        err());
    List<Row> rows = read(out);
    assertEquals(4, rows.size());
    for (Row r : rows) {
      String path = r.getString(r.fieldIndex("path"));
      double label = r.getDouble(r.fieldIndex("label"));
      assertEquals(path.contains("/dog/") ? 1.0 : 0.0, label, path);
    }
    // a folder of images without class folders: no label column
    Path flat = tmp.resolve("flat.parquet");
    assertEquals(
        0,
        cli(
            "predict",
            "--model",
            run.toString(),
            "--input",
            images.resolve("cat").toString(),
            "--output",
            flat.toString(),
            "--format",
            "csv"),
        err());
    List<Row> csv =
        withSpark(
            spark -> spark.read().option("header", "true").csv(flat.toString()).collectAsList());
    assertEquals(2, csv.size());
    assertEquals(
        List.of("path", "index", "prediction", "p_0", "p_1"),
        Arrays.asList(csv.get(0).schema().fieldNames()));
    // evaluate needs labels
    assertEquals(
        ExitCode.BAD_CONFIG.code(),
        cli(
            "evaluate",
            "--model",
            run.toString(),
            "--data",
            images.resolve("cat").toString(),
            "--output",
            tmp.resolve("eval-flat").toString()));
    assertTrue(err().contains("needs labelled data"), err());
  }

  @Test
  void evaluateMeasuresARegressorsRmse() throws Exception {
    SplittableRandom rng = new SplittableRandom(8);
    List<Row> data = new ArrayList<>();
    float[][] x = new float[50][3];
    double[] y = new double[50];
    for (int i = 0; i < 50; i++) {
      for (int j = 0; j < 3; j++) {
        x[i][j] = (float) rng.nextDouble(-1, 1);
      }
      y[i] = x[i][0] - 2 * x[i][2];
      data.add(
          RowFactory.create(List.of((double) x[i][0], (double) x[i][1], (double) x[i][2]), y[i]));
    }
    Path table = tmp.resolve("regression.parquet");
    withSpark(
        spark -> {
          spark
              .createDataFrame(
                  data,
                  new StructType()
                      .add("features", DataTypes.createArrayType(DataTypes.DoubleType))
                      .add("label", DataTypes.DoubleType))
              .write()
              .parquet(table.toString());
          return null;
        });
    SpindleConfig config =
        config(
            "data.format=table",
            "data.dataset=linear",
            "data.path=" + table,
            "data.testPath=" + table,
            "data.task=regression",
            "model.layers=[{type: dense, units: 5, activation: tanh},"
                + " {type: output, units: 1, activation: identity, loss: mse}]");
    Path run = tmp.resolve("regression-run");
    RunOutput output = new RunOutput(run);
    output.writeConfig(config);
    MultiLayerNetwork net = ModelFactory.createStock(config.model(), 3, 5L);
    output.writeModel(net);
    assertEquals(0, cli("evaluate", "--model", run.toString()), err());
    JsonNode eval = new ObjectMapper().readTree(run.resolve("evaluation.json").toFile());
    float[] flat = new float[150];
    for (int i = 0; i < 50; i++) {
      System.arraycopy(x[i], 0, flat, 3 * i, 3);
    }
    float[] predicted =
        net.output(Nd4j.create(flat, new long[] {50, 3}, 'c').castTo(DataType.FLOAT), false)
            .toFloatVector();
    double sse = 0;
    for (int i = 0; i < 50; i++) {
      sse += (predicted[i] - y[i]) * (predicted[i] - y[i]);
    }
    assertEquals(50, eval.get("examples").asLong());
    assertEquals(Math.sqrt(sse / 50), eval.get("rmse").asDouble(), 1e-5);
    assertFalse(eval.has("confusion_matrix"));
    assertTrue(Files.readString(run.resolve("report.html")).contains("rmse"));
  }
}
