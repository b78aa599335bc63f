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
    try (StandaloneCluster cluster =
        StandaloneCluster.builder()
            .classpath(app.sparkClasspath())
            .workers(2)
            .coresPerWorker(1)
            .memoryPerWorker("2g")
            .start()) {
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

  private static String tail(String log) {
    List<String> lines = log.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }
}
