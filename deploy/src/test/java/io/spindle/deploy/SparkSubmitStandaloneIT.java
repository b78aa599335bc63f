package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.cluster.StandaloneCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The deployment path end to end: a Spark standalone cluster (Master and two Workers on 127.0.0.1)
 * whose classpath holds only what a Spark distribution ships, the built application jar submitted
 * with Spark's launcher class {@code SparkSubmit} in client mode, and the default model, optimiser
 * and batch training MNIST to the foundation accuracy (test accuracy >= 0.98).
 *
 * <p>One deviation from the default config keeps it within CI's budget on two cores: {@code
 * cluster.sync=collective} (the same maths as the default {@code gradient_sharing}: every step
 * applies the global-batch gradient, but one barrier stage per epoch instead of one Spark job per
 * step, which costs ~0.5-1 s on a standalone cluster here against ~0.1 s in local mode). {@code
 * -Dspindle.it.sync=gradient_sharing} runs the default engine, {@code -Dspindle.it.epochs=N}
 * another number of epochs (default 8, as the default config).
 */
class SparkSubmitStandaloneIT {
  @Test
  void submittedApplicationJarTrainsMnistOnTheCluster(@TempDir Path tmp) throws Exception {
    AppJar app = AppJar.fromBuild();
    int epochs = Integer.getInteger("spindle.it.epochs", 8);
    String sync = System.getProperty("spindle.it.sync", "collective");
    Path run = tmp.resolve("run");
    try (StandaloneCluster cluster = app.startTwoWorkerCluster()) {
      Submit submit =
          Submit.of(app, cluster.masterUrl())
              .args(
                  "train",
                  "--output",
                  run.toString(),
                  "--set",
                  "training.epochs=" + epochs,
                  "--set",
                  "cluster.sync=" + sync,
                  "--set",
                  "training.logEvery=1")
              .start(tmp.resolve("submit.log"));
      long firstStepNanos;
      int code;
      try {
        firstStepNanos = submit.awaitLine(l -> l.startsWith("epoch 1/"), 300);
        code = submit.waitFor(600);
      } finally {
        submit.destroy();
      }
      String log = Files.readString(tmp.resolve("submit.log"));
      assertEquals(0, code, "spark-submit exit code; log:\n" + tail(log) + cluster.logs());
      JsonNode summary = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
      double accuracy = summary.get("test_accuracy").asDouble();
      System.out.printf(
          Locale.ROOT,
          "[standalone] app jar %.1f MB, sync %s, submit to first progress line %.1f s, %d epochs"
              + " in %.1f s"
              + " (submit to exit %.1f s), test accuracy %.4f%n",
          Files.size(app.jar()) / 1e6,
          sync,
          firstStepNanos / 1e9,
          epochs,
          summary.get("wall_seconds").asDouble(),
          submit.elapsedSeconds(),
          accuracy);
      assertTrue(accuracy >= 0.98, "test accuracy " + accuracy + " < 0.98");
      assertEquals(cluster.masterUrl(), summary.get("spark_master").asText());
      assertEquals(2, summary.get("workers").asInt());
      assertEquals(epochs, summary.get("epochs").asInt());
    }
  }

  /**
   * {@code model.precision: bf16} on the cluster: each executor enables AMX itself, with the JNI
   * library it loads from the application jar (nothing installed on the host), before its first
   * oneDNN product, and reports what its products computed in ({@code worker_compute_precision}):
   * bf16 where the CPU has AMX-BF16 and the jar holds the library, float32 (with one warning)
   * elsewhere. One epoch, whose test accuracy must reach 0.95 (float32: 0.962-0.964).
   */
  @Test
  void executorsLoadTheAmxLibraryFromTheJarAndComputeInBf16(@TempDir Path tmp) throws Exception {
    AppJar app = AppJar.fromBuild();
    Path run = tmp.resolve("run");
    boolean amx =
        io.spindle.runtime.Amx.cpuHasAmxBf16()
            && io.spindle.runtime.Amx.class.getResource(io.spindle.runtime.Amx.RESOURCE) != null;
    try (StandaloneCluster cluster = app.startTwoWorkerCluster()) {
      Submit submit =
          Submit.of(app, cluster.masterUrl())
              .args(
                  "train",
                  "--output",
                  run.toString(),
                  "--set",
                  "training.epochs=1",
                  "--set",
                  "cluster.sync=collective",
                  "--set",
                  "model.precision=bf16")
              .start(tmp.resolve("submit.log"));
      int code;
      try {
        code = submit.waitFor(600);
      } finally {
        submit.destroy();
      }
      String log = Files.readString(tmp.resolve("submit.log"));
      assertEquals(0, code, "spark-submit exit code; log:\n" + tail(log) + cluster.logs());
      JsonNode summary = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
      System.out.printf(
          Locale.ROOT,
          "[standalone-bf16] AMX-BF16 and library in the jar: %s; workers computed in %s, the"
              + " driver's verdict %s, test accuracy %.4f%n",
          amx,
          summary.path("worker_compute_precision").asText(),
          summary.path("compute_precision").asText(),
          summary.get("test_accuracy").asDouble());
      assertEquals(
          amx ? "bf16" : "float32",
          summary.path("worker_compute_precision").asText(),
          "what the executors' products computed in; summary: " + summary);
      assertTrue(summary.get("test_accuracy").asDouble() >= 0.95, summary.toString());
    }
  }

  private static String tail(String log) {
    List<String> lines = log.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }
}
