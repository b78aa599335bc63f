package io.spindle.driver.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.cli.SpindleCli;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spark's GPU scheduling on CPU: two standalone workers each discover one fake GPU (addresses "0"
 * and "1", from fake-gpu-discovery.sh), executors and tasks request one GPU each, and a short
 * training run records in summary.json which address each executor's tasks were bound to: every
 * executor used exactly one address, and the two differ.
 */
class GpuAssignmentTest {
  @Test
  void eachExecutorsTasksAreBoundToTheirOwnGpu(@TempDir Path tmp) throws Exception {
    Path script = tmp.resolve("fake-gpu-discovery.sh");
    try (InputStream in = getClass().getResourceAsStream("fake-gpu-discovery.sh")) {
      Files.copy(in, script);
    }
    script.toFile().setExecutable(true);
    Map<String, String> sparkConf = new LinkedHashMap<>();
    sparkConf.put("spark.executor.resource.gpu.amount", "1");
    sparkConf.put("spark.task.resource.gpu.amount", "1");
    sparkConf.put("spark.executor.memory", "768m");
    sparkConf.put("spark.executor.cores", "1");
    sparkConf.put("spark.cores.max", "2");
    sparkConf.put("spark.driver.host", "127.0.0.1");
    sparkConf.put("spark.driver.bindAddress", "127.0.0.1");
    sparkConf.put("spark.ui.enabled", "false");
    try (StandaloneCluster cluster =
            StandaloneCluster.builder()
                .workers(2)
                .memoryPerWorker("1g")
                .conf("spark.worker.resource.gpu.amount", "1")
                .conf("spark.worker.resource.gpu.discoveryScript", script.toString())
                .workerEnv(0, "SPINDLE_FAKE_GPUS", "0")
                .workerEnv(1, "SPINDLE_FAKE_GPUS", "1")
                .start();
        SystemProperties props = new SystemProperties(sparkConf)) {
      Path out = tmp.resolve("run");
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int code =
          SpindleCli.run(
              new String[] {
                "train",
                "--set",
                "cluster.master=" + cluster.masterUrl(),
                "--set",
                "data.mirror=" + TestDatasets.mirror(),
                "--set",
                "data.trainLimit=2048",
                "--set",
                "training.epochs=1",
                "--output",
                out.toString()
              },
              System.out,
              new PrintStream(err, true, StandardCharsets.UTF_8));
      assertEquals(0, code, err.toString(StandardCharsets.UTF_8) + cluster.logs());
      JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
      assertEquals("[\"0\",\"1\"]", summary.get("gpu_addresses").toString(), summary.toString());
      JsonNode byExecutor = summary.get("gpu_address_by_executor");
      assertEquals(2, byExecutor.size(), byExecutor.toString());
      List<String> perExecutor = new ArrayList<>();
      byExecutor.forEach(
          addresses -> {
            assertEquals(1, addresses.size(), "one device per executor: " + byExecutor);
            perExecutor.add(addresses.get(0).asText());
          });
      assertNotEquals(perExecutor.get(0), perExecutor.get(1), byExecutor.toString());
    }
  }

  /** Spark settings for the in-process driver (SparkConf reads spark.* system properties). */
  private static final class SystemProperties implements AutoCloseable {
    private final Map<String, String> previous = new LinkedHashMap<>();

    SystemProperties(Map<String, String> values) {
      values.forEach((k, v) -> previous.put(k, System.setProperty(k, v)));
    }

    @Override
    public void close() {
      previous.forEach(
          (k, v) -> {
            if (v == null) {
              System.clearProperty(k);
            } else {
              System.setProperty(k, v);
            }
          });
    }
  }
}
