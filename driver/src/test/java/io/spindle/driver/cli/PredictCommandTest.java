package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spindle predict} and {@code spindle evaluate} on a short MNIST run: predict's accuracy on
 * the test set is the run's own test accuracy; evaluate writes evaluation.json and the report's
 * confusion matrix; bad input gives one line naming the column or file and a non-zero exit.
 */
class PredictCommandTest {
  @TempDir static Path tmp;
  static Path run;
  static final ByteArrayOutputStream OUT = new ByteArrayOutputStream();
  static final ByteArrayOutputStream ERR = new ByteArrayOutputStream();

  static int cli(String... args) {
    OUT.reset();
    ERR.reset();
    return SpindleCli.run(
        args,
        new PrintStream(OUT, true, StandardCharsets.UTF_8),
        new PrintStream(ERR, true, StandardCharsets.UTF_8));
  }

  static String out() {
    return OUT.toString(StandardCharsets.UTF_8);
  }

  static String err() {
    return ERR.toString(StandardCharsets.UTF_8);
  }

  static String mnist() {
    return TestDatasets.mirror().resolve("mnist").toUri().toString();
  }

  @BeforeAll
  static void trainAShortRun() {
    run = tmp.resolve("run");
    int code =
        cli(
            "train",
            "--set",
            "data.mirror=" + TestDatasets.mirror(),
            "--set",
            "data.trainLimit=4096",
            "--set",
            "training.epochs=1",
            "--set",
            "training.batchSize=128",
            "--set",
            "model.layers[0].units=64",
            "--set",
            "model.layers[1].units=64",
            "--output",
            run.toString());
    assertEquals(0, code, err());
  }

  @Test
  void predictOnTheTestSetGivesTheRunsOwnAccuracy() throws Exception {
    Path pred = tmp.resolve("pred.parquet");
    assertEquals(
        0,
        cli("predict", "--model", run.toString(), "--input", mnist(), "--output", pred.toString()),
        err());
    JsonNode summary = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
    double runAccuracy = summary.get("test_accuracy").asDouble();
    SparkSession spark = SparkSession.builder().master("local[1]").getOrCreate();
    try {
      Dataset<Row> rows = spark.read().parquet(pred.toString());
      assertEquals(10_000, rows.count());
      assertEquals(10_000, rows.select("id").distinct().count());
      long correct = rows.filter("prediction = label").count();
      assertEquals(runAccuracy, correct / 10_000.0, 1e-12, out());
      Row first = rows.orderBy("id").first();
      List<Double> p = first.getList(first.fieldIndex("probability"));
      assertEquals(10, p.size());
      assertEquals(1.0, p.stream().mapToDouble(Double::doubleValue).sum(), 1e-4);
    } finally {
      spark.stop();
    }
    assertTrue(out().contains("examples/s"), out());
    assertTrue(
        Files.readString(run.resolve("spindle.log")).contains("spindle predict --model " + run),
        "spindle.log records the predict command");
    // no temporary directory is left beside the output
    try (Stream<Path> files = Files.list(tmp)) {
      assertFalse(
          files.anyMatch(f -> f.getFileName().toString().contains(".spindle-tmp-")),
          "leftover temporary output");
    }
    // the output is never overwritten silently
    assertEquals(
        ExitCode.BAD_CONFIG.code(),
        cli("predict", "--model", run.toString(), "--input", mnist(), "--output", pred.toString()));
    assertTrue(err().contains("exists; pass --overwrite"), err());
  }

  @Test
  void evaluateWritesTheConfusionMatrixIntoEvaluationJsonAndTheReport() throws Exception {
    assertEquals(0, cli("evaluate", "--model", run.toString()), err());
    // the run log, as train writes it: evaluate appends to the run's spindle.log
    assertTrue(
        Files.readString(run.resolve("spindle.log")).contains("spindle evaluate --model " + run),
        "spindle.log records the evaluate command");
    JsonNode eval = new ObjectMapper().readTree(run.resolve("evaluation.json").toFile());
    JsonNode summary = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
    assertEquals(10_000, eval.get("examples").asLong());
    assertEquals(summary.get("test_accuracy").asDouble(), eval.get("accuracy").asDouble(), 1e-12);
    assertEquals(summary.get("test_loss").asDouble(), eval.get("loss").asDouble(), 1e-4);
    long total = 0;
    long diagonal = 0;
    for (int i = 0; i < 10; i++) {
      for (int j = 0; j < 10; j++) {
        total += eval.get("confusion_matrix").get(i).get(j).asLong();
      }
      diagonal += eval.get("confusion_matrix").get(i).get(i).asLong();
      assertEquals(
          eval.get("per_class").get(i).get("support").asLong(),
          sumRow(eval.get("confusion_matrix").get(i)));
    }
    assertEquals(10_000, total);
    assertEquals(eval.get("accuracy").asDouble(), diagonal / 10_000.0, 1e-12);
    assertTrue(eval.get("top5_accuracy").asDouble() >= eval.get("accuracy").asDouble());
    String report = Files.readString(run.resolve("report.html"));
    assertTrue(report.contains("Confusion matrix") && report.contains("Per class"), report);
    assertTrue(report.contains("true 3, predicted 5"), "a cell's tooltip");
  }

  private static long sumRow(JsonNode row) {
    long n = 0;
    for (JsonNode c : row) {
      n += c.asLong();
    }
    return n;
  }

  @Test
  void badInputNamesTheColumnOrFileAndExitsNonZero() throws Exception {
    SparkSession spark = SparkSession.builder().master("local[1]").getOrCreate();
    String table = tmp.resolve("small.parquet").toString();
    try {
      List<Row> rows = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        rows.add(org.apache.spark.sql.RowFactory.create(List.of(1.0, 2.0, 3.0), (double) (i % 2)));
      }
      spark
          .createDataFrame(
              rows,
              new org.apache.spark.sql.types.StructType()
                  .add(
                      "x",
                      org.apache.spark.sql.types.DataTypes.createArrayType(
                          org.apache.spark.sql.types.DataTypes.DoubleType))
                  .add("y", org.apache.spark.sql.types.DataTypes.DoubleType))
          .write()
          .parquet(table);
    } finally {
      spark.stop();
    }
    // a missing column
    int code =
        cli(
            "predict",
            "--model",
            run.toString(),
            "--input",
            table,
            "--output",
            tmp.resolve("bad1").toString());
    assertEquals(ExitCode.BAD_DATA.code(), code, err());
    assertTrue(err().contains("missing column 'features'"), err());
    assertEquals(1, err().strip().lines().count(), err());
    // a wrong vector size
    code =
        cli(
            "predict",
            "--model",
            run.toString(),
            "--input",
            table,
            "--features-col",
            "x",
            "--output",
            tmp.resolve("bad2").toString());
    assertEquals(ExitCode.BAD_DATA.code(), code, err());
    assertTrue(err().contains("column 'x' holds vectors of size 3"), err());
    assertTrue(err().contains("takes 784"), err());
    // a model file of another architecture in the run directory
    Path other = tmp.resolve("other-run");
    Files.createDirectories(other);
    Files.copy(run.resolve("config.yaml"), other.resolve("config.yaml"));
    new io.spindle.driver.RunOutput(other)
        .writeModel(
            io.spindle.model.ModelFactory.createStock(
                io.spindle.config.ConfigLoader.parse(
                        "", "test", List.of("model.layers[0].units=32"))
                    .model(),
                784,
                1L));
    code =
        cli(
            "predict",
            "--model",
            other.toString(),
            "--input",
            mnist(),
            "--output",
            tmp.resolve("bad3").toString());
    assertEquals(ExitCode.BAD_DATA.code(), code, err());
    assertTrue(
        err().contains(other.resolve("model.zip").toString())
            && err().contains("does not match the run's config.yaml"),
        err());
    for (String name : List.of("bad1", "bad2", "bad3")) {
      assertFalse(Files.exists(tmp.resolve(name)), name);
    }
  }

  @Test
  void killingPredictMidWriteLeavesNoOutputAndTheNextRunCleansUp() throws Exception {
    Path parent = tmp.resolve("killed");
    Files.createDirectories(parent);
    Path output = parent.resolve("scores.parquet");
    String images = TestDatasets.mirror().resolve("mnist/train-images-idx3-ubyte.gz").toString();
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx1g");
    cmd.addAll(io.spindle.driver.cluster.StandaloneCluster.JAVA17_OPENS);
    cmd.add("-cp");
    cmd.add(
        String.join(
            java.io.File.pathSeparator,
            io.spindle.driver.cluster.StandaloneCluster.defaultClasspath()));
    cmd.add(SpindleCli.class.getName());
    cmd.addAll(
        List.of(
            "predict",
            "--model",
            run.toString(),
            "--input",
            images,
            "--output",
            output.toString(),
            "--batch-size",
            "64"));
    Process child =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("killed.log").toFile())
            .start();
    try {
      // wait until the write is under way: its hidden temporary directory holds Spark's files
      long deadline = System.nanoTime() + 120_000_000_000L;
      Path inProgress = null;
      while (inProgress == null && System.nanoTime() < deadline && child.isAlive()) {
        try (Stream<Path> files = Files.list(parent)) {
          inProgress =
              files
                  .filter(
                      f -> f.getFileName().toString().startsWith(".scores.parquet.spindle-tmp-"))
                  .findFirst()
                  .orElse(null);
        }
        Thread.sleep(20);
      }
      assertTrue(
          inProgress != null && child.isAlive(),
          "the write never started: " + Files.readString(tmp.resolve("killed.log")));
      child.descendants().forEach(ProcessHandle::destroyForcibly);
      child.destroyForcibly(); // SIGKILL: no shutdown hook runs
      child.waitFor();
    } finally {
      child.destroyForcibly();
    }
    assertFalse(Files.exists(output), "no output directory after the kill");
    try (Stream<Path> files = Files.walk(parent)) {
      List<Path> visible =
          files
              .filter(Files::isRegularFile)
              .filter(f -> !parent.relativize(f).getName(0).toString().startsWith("."))
              .toList();
      assertEquals(List.of(), visible, "files outside the hidden temporary directory");
    }
    // the next run to the same output removes the leftover and writes the whole result
    assertEquals(
        0,
        cli(
            "predict",
            "--model",
            run.toString(),
            "--input",
            mnist(),
            "--output",
            output.toString(),
            "--format",
            "csv"),
        err());
    try (Stream<Path> files = Files.list(parent)) {
      assertEquals(List.of(output), files.toList());
    }
    try (Stream<Path> parts = Files.list(output)) {
      long lines = 0;
      for (Path p : parts.filter(f -> f.getFileName().toString().startsWith("part-")).toList()) {
        lines += Files.readAllLines(p).size() - 1; // a header per part
      }
      assertEquals(10_000, lines);
    }
  }
}
