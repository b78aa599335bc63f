package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.cluster.StandaloneCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gradient exchanges across the test bed equal the same runs over loopback bit for bit (issue
 * 18): the application jar submitted to a standalone cluster whose Master, two Workers and driver
 * sit in their own network namespaces behind 100 Mbit/s links, against the same config in Spark's
 * local mode on 127.0.0.1. Ten global steps of the default MLP (global batch 256) in rounds of
 * four, so a second and a third round start from committed state shipped to real executors (with
 * lossy compression: every worker's residuals and PowerSGD's factors, through Spark's serializer).
 *
 * <ul>
 *   <li>{@code none}: the parameters and the optimiser state after the run are the loopback run's,
 *       bit for bit (same checkpoint SHA-256).
 *   <li>{@code powersgd} rank 2 with a replicated optimiser: parameters, optimiser state and {@code
 *       compression.bin} bit for bit, and the ring sends 72x fewer bytes than fp32.
 * </ul>
 */
class ExchangeOverNetworkBedIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void exchangesAcrossTheBedEqualLoopbackBitForBit(@TempDir Path tmp) throws Exception {
    AppJar app = AppJar.fromBuild();
    List<String> common =
        List.of(
            "cluster.sync=collective",
            "cluster.workers=2",
            "cluster.roundSteps=4",
            "data.trainLimit=2560",
            "training.epochs=1",
            "training.logEvery=5",
            "checkpoint.everyEpoch=true");
    List<String> powersgd =
        List.of(
            "cluster.compression=powersgd",
            "cluster.powersgdRank=2",
            "cluster.shardOptimizer=false");
    JsonNode loopNone = local(app, tmp.resolve("loop-none"), common, List.of());
    JsonNode loopPsgd = local(app, tmp.resolve("loop-psgd"), common, powersgd);
    try (NetworkBed bed = NetworkBed.up("100mbit", "driver", "master", "w0", "w1");
        StandaloneCluster cluster =
            bed.cluster(
                StandaloneCluster.builder()
                    .classpath(app.sparkClasspath())
                    .coresPerWorker(1)
                    .memoryPerWorker("2g"),
                "master",
                "w0",
                "w1")) {
      JsonNode bedNone = inBed(bed, cluster, app, tmp.resolve("bed-none"), common, List.of());
      assertEquals(cluster.masterUrl(), bedNone.get("summary").get("spark_master").asText());
      assertSameFiles(loopNone, bedNone, "params.bin", "optimizer.bin");
      JsonNode bedPsgd = inBed(bed, cluster, app, tmp.resolve("bed-psgd"), common, powersgd);
      assertSameFiles(loopPsgd, bedPsgd, "params.bin", "optimizer.bin", "compression.bin");
      double fp32 = bedNone.get("summary").get("bytes_sent_per_worker_per_step").asDouble();
      double compressed = bedPsgd.get("summary").get("bytes_sent_per_worker_per_step").asDouble();
      assertTrue(fp32 / compressed > 50, "powersgd:2 sends " + compressed + " vs " + fp32);
      assertEquals("powersgd:2", bedPsgd.get("summary").get("compression").asText());
    }
  }

  /** The two runs' final checkpoints hold the same bytes in {@code files}. */
  private static void assertSameFiles(JsonNode expected, JsonNode actual, String... files) {
    assertEquals(10, actual.get("manifest").get("globalStep").asInt());
    for (String f : files) {
      String e = expected.get("manifest").get("files").path(f).path("sha256").asText();
      String a = actual.get("manifest").get("files").path(f).path("sha256").asText();
      assertTrue(!e.isEmpty(), f + " missing from the loopback run's checkpoint");
      assertEquals(e, a, f + " over the bed differs from loopback");
    }
  }

  private static JsonNode local(AppJar app, Path run, List<String> common, List<String> more)
      throws Exception {
    return submit(Submit.of(app, "local[2]"), run, common, more, "");
  }

  private static JsonNode inBed(
      NetworkBed bed,
      StandaloneCluster cluster,
      AppJar app,
      Path run,
      List<String> common,
      List<String> more)
      throws Exception {
    String driver = bed.address("driver");
    Submit submit =
        Submit.of(app, cluster.masterUrl())
            .launchIn(bed.launcher("driver"))
            .conf("spark.driver.host", driver)
            .conf("spark.driver.bindAddress", driver)
            .env("SPARK_LOCAL_IP", driver)
            .env("SPARK_LOCAL_HOSTNAME", driver);
    return submit(submit, run, common, more, cluster.logs());
  }

  /** Runs {@code spindle train}, returns its summary and its last checkpoint's manifest. */
  private static JsonNode submit(
      Submit submit, Path run, List<String> common, List<String> more, String clusterLogs)
      throws Exception {
    Files.createDirectories(run);
    List<String> args =
        new ArrayList<>(List.of("train", "--output", run.resolve("out").toString()));
    for (String s : common) {
      args.addAll(List.of("--set", s));
    }
    for (String s : more) {
      args.addAll(List.of("--set", s));
    }
    submit.args(args.toArray(String[]::new));
    submit.start(run.resolve("submit.log"));
    int code;
    try {
      code = submit.waitFor(600);
    } finally {
      submit.destroy();
    }
    String log = Files.readString(run.resolve("submit.log"));
    assertEquals(0, code, "spark-submit, exit code; log:\n" + log + clusterLogs);
    Path checkpoints = run.resolve("out/checkpoints");
    Path last;
    try (var s = Files.list(checkpoints)) {
      last =
          s.filter(p -> p.getFileName().toString().startsWith("step-"))
              .sorted()
              .reduce((a, b) -> b)
              .orElseThrow();
    }
    var node = JSON.createObjectNode();
    node.set("summary", JSON.readTree(run.resolve("out/summary.json").toFile()));
    node.set("manifest", JSON.readTree(last.resolve("manifest.json").toFile()));
    return node;
  }
}
