package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.job.TrainJob;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** A short real run end to end: outputs, their formats, and that the model learns. */
class TrainJobTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();
  private static final ObjectMapper JSON = new ObjectMapper();

  @ParameterizedTestSyncModes
  void shortRunWritesEveryOutputAndLearns(String sync, @TempDir Path tmp) throws Exception {
    SpindleConfig config =
        ConfigLoader.load(
            null,
            List.of(
                "data.mirror=" + TestDatasets.mirror(),
                "data.cacheDir=" + tmp.resolve("cache"),
                "data.trainLimit=6000",
                "model.layers=[{type: dense, units: 64, activation: relu},"
                    + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
                "training.epochs=2",
                "training.batchSize=100",
                "training.logEvery=10",
                "cluster.sync=" + sync,
                "cluster.averagingSteps=3"));
    Path out = tmp.resolve("run");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    Map<String, Object> summary =
        TrainJob.run(
            SPARK.sc(), config, new RunOutput(out), new PrintStream(console, true, "UTF-8"));

    JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
    for (String key :
        List.of(
            "test_accuracy",
            "test_loss",
            "epochs",
            "steps",
            "samples_per_second",
            "wall_seconds",
            "workers",
            "sync")) {
      assertTrue(s.has(key), "summary.json lacks " + key);
    }
    assertEquals(2, s.get("epochs").asInt());
    assertEquals(120, s.get("steps").asInt());
    assertEquals(2, s.get("workers").asInt());
    assertEquals(sync, s.get("sync").asText());
    assertTrue(s.get("test_accuracy").asDouble() > 0.85, "accuracy " + s.get("test_accuracy"));
    assertEquals(summary.get("test_accuracy"), s.get("test_accuracy").asDouble());

    List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
    long epochs = lines.stream().filter(l -> l.contains("\"type\":\"epoch\"")).count();
    long steps = lines.stream().filter(l -> l.contains("\"type\":\"step\"")).count();
    assertEquals(2, epochs);
    assertTrue(steps >= 12, "expected a step record every 10 steps, got " + steps);
    for (String line : lines) {
      JsonNode rec = JSON.readTree(line);
      assertTrue(Double.isFinite(rec.path("loss").asDouble(rec.path("test_loss").asDouble())));
    }

    SpindleConfig written = ConfigLoader.load(out.resolve("config.yaml"), List.of());
    assertEquals(config, written);

    MultiLayerNetwork restored =
        ModelSerializer.restoreMultiLayerNetwork(out.resolve("model.zip").toFile());
    assertEquals(784 * 64 + 64 + 64 * 10 + 10, restored.numParams());

    String text = console.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("samples/s") && text.contains("test accuracy"), text);
    try (var files = Files.list(out)) {
      assertTrue(
          files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")),
          "no temporary file may remain");
    }
  }

  @java.lang.annotation.Retention(java.lang.annotation.RetentionPolicy.RUNTIME)
  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {"gradient_sharing", "parameter_averaging"})
  @interface ParameterizedTestSyncModes {}
}
