package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import io.spindle.driver.cli.SpindleCli;
import io.spindle.driver.cluster.StandaloneCluster;
import io.spindle.model.ModelFactory;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spindle predict} submitted with the application jar to the standalone-cluster fixture
 * (Master and two Workers on 127.0.0.1, a Spark-only classpath): it scores the MNIST test set on
 * the executors, writes the result atomically, and gives exactly the predictions of a local-mode
 * run of the same command.
 */
class PredictStandaloneIT {
  @Test
  void predictSubmittedToTheClusterScoresLikeLocalMode(@TempDir Path tmp) throws Exception {
    AppJar app = AppJar.fromBuild();
    // a run directory with a small MLP (untrained, fixed seed): predictions need no training
    SpindleConfig config =
        ConfigLoader.parse(
            "",
            "test",
            List.of("model.layers[0].units=64", "model.layers[1].units=32", "training.seed=3"));
    Path run = tmp.resolve("run");
    RunOutput out = new RunOutput(run);
    out.writeConfig(config);
    out.writeModel(ModelFactory.createStock(config.model(), 784, 3L));
    String input =
        Path.of(System.getProperty("spindle.shared.datasets"), "mnist", "t10k-images-idx3-ubyte.gz")
            .toString();
    Path clusterOut = tmp.resolve("cluster.parquet");
    Path localOut = tmp.resolve("local.parquet");
    try (StandaloneCluster cluster = app.startTwoWorkerCluster()) {
      Submit submit =
          Submit.of(app, cluster.masterUrl())
              .args(
                  "predict",
                  "--model",
                  run.toString(),
                  "--input",
                  input,
                  "--output",
                  clusterOut.toString(),
                  "--partitions",
                  "4")
              .start(tmp.resolve("submit.log"));
      int code;
      try {
        code = submit.waitFor(300);
      } finally {
        submit.destroy();
      }
      String log = Files.readString(tmp.resolve("submit.log"));
      assertEquals(0, code, "spark-submit exit code; log:\n" + log + cluster.logs());
      String line = log.lines().filter(l -> l.startsWith("spindle: scored")).findFirst().orElse("");
      System.out.printf(Locale.ROOT, "[standalone predict] %s%n", line);
      assertTrue(line.startsWith("spindle: scored 10000 examples"), log);
    }
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int local =
        SpindleCli.run(
            new String[] {
              "predict",
              "--model",
              run.toString(),
              "--input",
              input,
              "--output",
              localOut.toString(),
              "--set",
              "cluster.master=local[2]"
            },
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(0, local, err.toString(StandardCharsets.UTF_8));
    SparkSession spark =
        SparkSession.builder()
            .master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate();
    try {
      Map<Long, Double> onCluster = predictions(spark, clusterOut);
      Map<Long, Double> inLocalMode = predictions(spark, localOut);
      assertEquals(10_000, onCluster.size());
      assertEquals(inLocalMode, onCluster);
    } finally {
      spark.stop();
    }
  }

  private static Map<Long, Double> predictions(SparkSession spark, Path dir) {
    return spark.read().parquet(dir.toString()).select("id", "prediction").collectAsList().stream()
        .collect(Collectors.toMap((Row r) -> r.getLong(0), (Row r) -> r.getDouble(1)));
  }
}
