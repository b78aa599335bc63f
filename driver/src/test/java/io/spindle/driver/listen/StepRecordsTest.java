package io.spindle.driver.listen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import io.spindle.driver.SparkLocal;
import io.spindle.driver.job.TrainJob;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Step records every {@code logEvery} steps under all three sync modes, with the default run's
 * shape scaled down: under {@code collective} a round is the whole epoch (the default {@code
 * roundSteps: 0}), so every record but the epoch's last comes from the workers' progress reports
 * while the round runs; {@code parameter_averaging} runs rounds of the default K = 4 steps; {@code
 * gradient_sharing} one step per round. The records' step numbers are exactly the multiples of
 * {@code logEvery}, each once and in order; their examples add up to the epoch's; loss, accuracy,
 * learning rate and samples/s are there; the console line carries an ETA.
 */
class StepRecordsTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2]");
  static final ObjectMapper JSON = new ObjectMapper();

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"collective", "gradient_sharing", "parameter_averaging"})
  void aStepRecordEveryLogEverySteps(String sync, @TempDir Path tmp) throws Exception {
    int logEvery = 4;
    int stepsPerEpoch = 24; // 2,400 examples in global batches of 100
    int epochs = 2;
    SpindleConfig config =
        ConfigLoader.load(
            null,
            List.of(
                "data.mirror=" + TestDatasets.mirror(),
                "data.cacheDir=" + tmp.resolve("cache"),
                "data.trainLimit=2400",
                "model.layers=[{type: dense, units: 32, activation: relu},"
                    + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
                "training.epochs=" + epochs,
                "training.batchSize=100",
                "training.logEvery=" + logEvery,
                "cluster.sync=" + sync));
    assertEquals(4, config.cluster().averagingSteps(), "the default K");
    assertEquals(0, config.cluster().roundSteps(), "the default: one collective round per epoch");
    Path out = tmp.resolve("run");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    Map<String, Object> summary =
        TrainJob.run(
            SPARK.sc(),
            config,
            new RunOutput(out),
            new PrintStream(console, true, StandardCharsets.UTF_8));
    assertEquals((long) epochs * stepsPerEpoch, ((Number) summary.get("steps")).longValue());

    List<JsonNode> steps = new ArrayList<>();
    List<JsonNode> epochRecords = new ArrayList<>();
    for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
      JsonNode r = JSON.readTree(line);
      (r.path("type").asText().equals("step") ? steps : epochRecords).add(r);
    }
    List<Long> expected = new ArrayList<>();
    for (long g = logEvery; g <= (long) epochs * stepsPerEpoch; g += logEvery) {
      expected.add(g);
    }
    assertEquals(
        expected,
        steps.stream().map(r -> r.path("global_step").asLong()).toList(),
        sync + ": global steps of the step records");
    for (JsonNode r : steps) {
      long g = r.path("global_step").asLong();
      assertEquals((g - 1) / stepsPerEpoch + 1, r.path("epoch").asInt(), "epoch of " + r);
      assertEquals((g - 1) % stepsPerEpoch + 1, r.path("step").asInt(), "step of " + r);
      double loss = r.path("loss").asDouble();
      assertTrue(loss > 0 && loss < 5, sync + ": loss " + r);
      double acc = r.path("accuracy").asDouble();
      assertTrue(acc >= 0 && acc <= 1, sync + ": accuracy " + r);
      assertTrue(r.path("samples_per_second").asDouble() > 0, sync + ": samples/s " + r);
      assertTrue(r.path("learning_rate").asDouble() > 0, sync + ": learning rate " + r);
    }
    // the loss falls over the run (records are real measurements, not copies of the epoch's)
    assertTrue(
        steps.get(steps.size() - 1).path("loss").asDouble()
            < 0.7 * steps.get(0).path("loss").asDouble(),
        sync + ": loss " + steps.get(0) + " then " + steps.get(steps.size() - 1));
    assertEquals(epochs, epochRecords.size());
    String text = console.toString(StandardCharsets.UTF_8);
    assertTrue(
        text.contains("step 4/24  (global 4)") && text.contains("ETA "),
        sync + ": the console's progress line: " + text);
  }
}
