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
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A plain collective run (fp32, no compression) across the test bed: the Master and two Workers
 * each in their own network namespace and address, the driver (spark-submit of the application jar,
 * client mode) in a fourth, every link shaped with tbf. Ring traffic, the driver's task closures
 * and the results all cross the shaped links.
 *
 * <ul>
 *   <li>At 1 Gbit/s one epoch of the default MLP (global batch 256) trains to test accuracy >= 0.95
 *       (0.96-0.97 after one epoch on loopback).
 *   <li>At 100 Mbit/s (the same cluster, re-shaped) 20 steps: the ring's time per step is at least
 *       what the link needs for the bytes the engine counted (it cannot be faster than the link),
 *       and at most 1.5x that plus the step's compute.
 * </ul>
 *
 * {@code -Dspindle.it.bedEpochs=N} trains N epochs at 1 Gbit/s instead of one.
 *
 * <p>Tagged {@code slow} (about 4 minutes; run with {@code -Pslow}): {@link
 * ExchangeOverNetworkBedIT} trains across the bed in the default build, and {@code spindle bench
 * --network} measures full runs.
 */
@Tag("slow")
class CollectiveOverNetworkBedIT {
  @Test
  void plainCollectiveRunTrainsAcrossTheBed(@TempDir Path tmp) throws Exception {
    AppJar app = AppJar.fromBuild();
    int epochs = Integer.getInteger("spindle.it.bedEpochs", 1);
    try (NetworkBed bed = NetworkBed.up("1gbit", "driver", "master", "w0", "w1");
        StandaloneCluster cluster =
            bed.cluster(
                StandaloneCluster.builder()
                    .classpath(app.sparkClasspath())
                    .coresPerWorker(1)
                    .memoryPerWorker("2g"),
                "master",
                "w0",
                "w1")) {
      assertEquals(
          "spark://" + bed.address("master") + ":", cluster.masterUrl().replaceAll("\\d+$", ""));

      JsonNode giga = train(bed, cluster, app, tmp.resolve("1gbit"), "training.epochs=" + epochs);
      double accuracy = giga.get("test_accuracy").asDouble();
      report("1gbit", giga);
      assertTrue(accuracy >= 0.95, "test accuracy after " + epochs + " epoch(s): " + accuracy);
      assertEquals(epochs, giga.get("epochs").asInt());
      double bytes = giga.get("bytes_sent_per_worker_per_step").asDouble();
      double bound = 2.0 * (2 - 1) / 2 * 4.0 * 1_276_810;
      assertTrue(bytes >= bound && bytes < 1.01 * bound, "ring bytes per step " + bytes);

      bed.rate("100mbit");
      JsonNode slow =
          train(
              bed,
              cluster,
              app,
              tmp.resolve("100mbit"),
              "training.epochs=1",
              "training.maxSteps=20");
      report("100mbit", slow);
      double linkSeconds = slow.get("bytes_sent_per_worker_per_step").asDouble() * 8 / 95.6e6;
      double ring = slow.get("collective_seconds_per_step").asDouble();
      double compute = slow.get("compute_seconds_per_step").asDouble();
      assertTrue(
          ring >= 0.95 * linkSeconds,
          "ring seconds per step " + ring + " below what the link allows, " + linkSeconds);
      assertTrue(
          ring <= 1.5 * linkSeconds + compute,
          "ring seconds per step " + ring + " far above the link's " + linkSeconds);
    }
  }

  private static JsonNode train(
      NetworkBed bed, StandaloneCluster cluster, AppJar app, Path run, String... sets)
      throws Exception {
    Files.createDirectories(run);
    String driver = bed.address("driver");
    Submit submit =
        Submit.of(app, cluster.masterUrl())
            .launchIn(bed.launcher("driver"))
            .conf("spark.driver.host", driver)
            .conf("spark.driver.bindAddress", driver)
            .env("SPARK_LOCAL_IP", driver)
            .env("SPARK_LOCAL_HOSTNAME", driver);
    submit.args(
        "train",
        "--output",
        run.resolve("out").toString(),
        "--set",
        "cluster.sync=collective",
        "--set",
        "training.logEvery=10");
    for (String s : sets) {
      submit.args("--set", s);
    }
    submit.start(run.resolve("submit.log"));
    int code;
    try {
      code = submit.waitFor(900);
    } finally {
      submit.destroy();
    }
    String log = Files.readString(run.resolve("submit.log"));
    assertEquals(
        0, code, "spark-submit in the bed, exit code; log:\n" + tail(log) + cluster.logs());
    JsonNode summary = new ObjectMapper().readTree(run.resolve("out/summary.json").toFile());
    assertEquals(cluster.masterUrl(), summary.get("spark_master").asText());
    assertEquals(2, summary.get("workers").asInt());
    return summary;
  }

  private static void report(String rate, JsonNode s) {
    System.out.printf(
        Locale.ROOT,
        "[netbed] collective at %s: %d steps, %.0f samples/s, step %.1f ms (compute %.1f ms, ring"
            + " %.1f ms), %.0f bytes/worker/step, test accuracy %.4f%n",
        rate,
        s.get("steps").asInt(),
        s.get("samples_per_second").asDouble(),
        1e3 * s.get("wall_seconds_per_step").asDouble(),
        1e3 * s.get("compute_seconds_per_step").asDouble(),
        1e3 * s.get("collective_seconds_per_step").asDouble(),
        s.get("bytes_sent_per_worker_per_step").asDouble(),
        s.get("test_accuracy").asDouble());
  }

  private static String tail(String log) {
    List<String> lines = log.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }
}
