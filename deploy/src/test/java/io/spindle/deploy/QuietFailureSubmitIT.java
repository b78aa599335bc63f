package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.driver.cluster.StandaloneCluster;
import io.spindle.driver.data.DamagedMnist;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad data under {@code spark-submit} of the application jar, where the driver's Log4j
 * configuration is the cluster's (here Spark's built-in INFO-to-console default) and the damaged
 * file is read by an executor in another JVM: exit code 3, one {@code spindle:} line on the console
 * naming the file and the run's log file, no stack trace on the console, and the executor's stack
 * trace (as Spark reports it to the driver) in that file.
 */
class QuietFailureSubmitIT {
  @Test
  void aDamagedGzipFileGivesExit3AndOneConsoleLine(@TempDir Path tmp) throws Exception {
    AppJar app = AppJar.fromBuild();
    Path data = DamagedMnist.copy(tmp.resolve("mnist"));
    Path images = data.resolve("train-images-idx3-ubyte.gz");
    DamagedMnist.flipMiddleByte(images);
    Path run = tmp.resolve("run");
    try (StandaloneCluster cluster = app.startTwoWorkerCluster()) {
      Submit submit =
          Submit.of(app, cluster.masterUrl())
              .args(
                  "train",
                  "--output",
                  run.toString(),
                  "--set",
                  "data.path=" + data.toUri(),
                  "--set",
                  "data.trainLimit=1024",
                  "--set",
                  "training.epochs=1")
              .start(tmp.resolve("submit.log"));
      int code;
      try {
        code = submit.waitFor(300);
      } finally {
        submit.destroy();
      }
      String console = Files.readString(tmp.resolve("submit.log"));
      assertEquals(3, code, "spark-submit exit code; console:\n" + console + cluster.logs());
      List<String> failures = console.lines().filter(l -> l.startsWith("spindle: ")).toList();
      Path log = run.resolve("spindle.log").toAbsolutePath();
      assertTrue(
          failures.stream()
              .anyMatch(
                  l ->
                      l.startsWith("spindle: bad data: " + images.toUri())
                          && l.endsWith("(details: " + log + ")")),
          console);
      assertEquals(
          1, failures.stream().filter(l -> l.startsWith("spindle: bad data")).count(), console);
      assertFalse(console.contains("\tat "), "no stack trace on the console:\n" + console);
      assertFalse(
          console.contains("TaskSetManager"), "Spark's task reports in the file:\n" + console);
      String logged = Files.readString(log);
      assertTrue(logged.contains("TaskSetManager"), logged);
      assertTrue(logged.contains("\tat io.spindle.worker.SplitReader"), logged);
      assertFalse(Files.exists(run.resolve("summary.json")));
    }
  }
}
