package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every system, once, on a small MNIST subset and a small MLP, through the same code path as {@code
 * spindle bench}: each must train (finite samples/s, test accuracy above 0.2, twice chance;
 * threshold-encoded gradient sharing learns slowest in 16 steps) and the output directory must hold
 * bench.json, bench.txt and bench.png. The PyTorch systems run when a Python interpreter imports
 * torch and must otherwise appear as skipped, with the reason, in bench.json and bench.txt.
 */
class BenchSmokeTest {
  @TempDir Path tmp;

  @Test
  void everySystemTrainsOnATinySubsetAndTheReportIsComplete() throws Exception {
    SpindleConfig config =
        ConfigLoader.load(
            null,
            List.of(
                "data.mirror=" + TestDatasets.mirror(),
                "data.cacheDir=" + tmp.resolve("cache"),
                "data.trainLimit=2048",
                "model.layers[0].units=32",
                "model.layers[1].units=32",
                "optimizer.learningRate=0.005",
                "training.batchSize=128",
                "training.epochs=1",
                "cluster.workers=2"));
    Path out = tmp.resolve("bench");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    List<SystemRun> runs =
        BenchCommand.run(
            config,
            new BenchCommand.Settings(BenchCommand.SYSTEMS, 0.5, 64),
            out,
            new PrintStream(console, true));

    boolean torch = TorchPeer.find().available();
    long torchSystems = BenchCommand.SYSTEMS.stream().filter(n -> n.startsWith("pytorch")).count();
    assertEquals(BenchCommand.SYSTEMS.size() - (torch ? 0 : torchSystems), runs.size());
    for (SystemRun r : runs) {
      assertTrue(
          Double.isFinite(r.samplesPerSecond()) && r.samplesPerSecond() > 0,
          r.system() + " samples/s " + r.samplesPerSecond());
      assertTrue(r.testAccuracy() > 0.2, r.system() + " test accuracy " + r.testAccuracy());
      assertEquals(2048, r.examples(), r.system());
      assertEquals(1, r.epochs().size(), r.system());
    }

    JsonNode json = new ObjectMapper().readTree(out.resolve("bench.json").toFile());
    assertEquals(BenchCommand.SYSTEMS.size(), json.size());
    List<String> names = new ArrayList<>();
    for (JsonNode o : json) {
      names.add(o.get("system").asText());
      if (o.has("skipped")) {
        assertTrue(o.get("system").asText().startsWith("pytorch"), o.toString());
        assertTrue(o.get("skipped").asText().contains("torch"), o.toString());
        continue;
      }
      for (String field : BenchReportTest.FIELDS) {
        assertTrue(o.has(field), o.get("system") + " lacks " + field);
      }
      assertTrue(o.get("samples_per_second").asDouble() > 0);
      assertTrue(o.get("fraction_of_matmul_peak").asDouble() > 0);
      if (!o.get("system").asText().equals("pytorch-ddp")) { // gloo's traffic is not counted
        assertTrue(o.get("bytes_sent_per_worker_per_step").isNumber(), o.get("system").asText());
      }
    }
    List<String> expected = new ArrayList<>(BenchCommand.SYSTEMS);
    if (!torch) { // the skipped systems are listed last
      expected.removeIf(n -> n.startsWith("pytorch"));
      BenchCommand.SYSTEMS.stream().filter(n -> n.startsWith("pytorch")).forEach(expected::add);
    }
    assertEquals(expected, names);
    // Spark-based baselines move bytes; the collective sends at least the all-reduce bound
    JsonNode collective = json.get(BenchCommand.SYSTEMS.indexOf("spindle-collective"));
    assertTrue(
        collective.get("bytes_sent_per_worker_per_step").asDouble()
            >= collective.get("allreduce_bound_bytes").asDouble());
    JsonNode averaging = json.get(BenchCommand.SYSTEMS.indexOf(BenchCommand.DL4J_SPARK_AVERAGING));
    assertTrue(averaging.get("broadcast_bytes").asLong() > 0, "broadcasts counted");
    assertTrue(averaging.get("task_result_bytes").asLong() > 0, "task results counted");

    String table = Files.readString(out.resolve("bench.txt"));
    for (String s : BenchCommand.SYSTEMS) {
      assertTrue(table.contains(s), "bench.txt lacks " + s);
    }
    assertNotNull(ImageIO.read(out.resolve("bench.png").toFile()));
  }
}
