package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every exit code of {@code spindle train}, each provoked through the command line, and the output
 * directory rule (never silently overwritten). Runs use 1,024 training examples and one epoch.
 */
class ExitCodesTest {
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int train(Path output, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "train",
                "--set",
                "data.mirror=" + TestDatasets.mirror(),
                "--set",
                "data.trainLimit=1024",
                "--set",
                "training.epochs=1",
                "--set",
                "training.batchSize=128",
                "--output",
                output.toString()));
    args.addAll(List.of(extra));
    err.reset();
    return SpindleCli.run(
        args.toArray(String[]::new),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void successAndNoSilentOverwrite(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("run");
    Files.createDirectories(out);
    Files.writeString(out.resolve("summary.json"), "{\"old\": true}");

    // 2: a non-empty output directory without --overwrite; nothing in it is touched.
    assertEquals(ExitCode.BAD_CONFIG.code(), train(out), err());
    assertTrue(err().contains("is not empty") && err().contains("--overwrite"), err());
    assertEquals("{\"old\": true}", Files.readString(out.resolve("summary.json")));

    // 0: with --overwrite the run replaces the old one and writes a new summary last.
    assertEquals(ExitCode.SUCCESS.code(), train(out, "--overwrite"), err());
    var summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    assertFalse(summary.has("old"));
    assertEquals(1024, summary.get("examples").asInt());
    assertTrue(Files.exists(out.resolve("model.zip")));
    // The report: self-contained, with the curves.
    String report = Files.readString(out.resolve("report.html"));
    assertTrue(report.contains("<svg") && report.contains("test accuracy (end of epoch)"), report);
    assertTrue(report.contains("<polyline") && report.contains("bytes sent per worker"), report);
    assertFalse(report.contains(" src=") || report.contains("href=\"http"), report);
    // The gauges the Spark plugin exports saw every step (1024 examples / 128 = 8).
    assertEquals(8, io.spindle.driver.monitor.TrainingGauges.current().globalStep());
  }

  @Test
  void internalErrorWhenTheOutputCannotBeCreated(@TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("a-file");
    Files.writeString(file, "x");
    // 1: an I/O failure that is neither config nor data nor Spark.
    assertEquals(ExitCode.INTERNAL_ERROR.code(), train(file.resolve("run")), err());
    assertTrue(err().contains("cannot create output directory"), err());
  }

  @Test
  void badDataWhenTheMirrorHasNoDataSet(@TempDir Path tmp) {
    // 3: an unreachable data path, named in the message.
    Path empty = tmp.resolve("empty-mirror");
    assertEquals(
        ExitCode.BAD_DATA.code(),
        train(
            tmp.resolve("run"),
            "--set",
            "data.mirror=" + empty,
            "--set",
            "data.cacheDir=" + tmp.resolve("cache")),
        err());
    assertTrue(err().contains("empty-mirror"), err());
  }

  @Test
  void divergedWithAHugeLearningRate(@TempDir Path tmp) {
    // 4: the loss turns NaN/infinite; no summary is written.
    Path out = tmp.resolve("run");
    assertEquals(
        ExitCode.DIVERGED.code(),
        train(out, "--set", "optimizer.type=sgd", "--set", "optimizer.learningRate=1e6"),
        err());
    assertTrue(err().contains("learningRate"), err());
    assertFalse(Files.exists(out.resolve("summary.json")));
  }

  @Test
  void sparkFailureWhenTheMasterIsUnreachable(@TempDir Path tmp) {
    // 5: nothing listens on port 1. Spindle's own check refuses before a Spark context exists
    // (Spark would retry registering with the master for a minute): the message is the check's,
    // with the refused connection, and nothing was written.
    assertEquals(
        ExitCode.CLUSTER_FAILURE.code(),
        train(tmp.resolve("run"), "--set", "cluster.master=spark://127.0.0.1:1"),
        err());
    assertTrue(err().contains("cannot reach the Spark master spark://127.0.0.1:1"), err());
    assertTrue(err().contains("127.0.0.1:1: java.net.ConnectException"), err());
    assertFalse(Files.exists(tmp.resolve("run").resolve("summary.json")));
  }
}
