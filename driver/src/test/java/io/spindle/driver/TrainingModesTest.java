package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.job.TrainJob;
import io.spindle.optim.LearningRateSchedule;
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
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Full-batch gradient descent ({@code training.batchSize: 0}), mini-batch and online learning
 * ({@code batchSize: 1}, where one of the two workers has nothing every step) train end to end on a
 * 400-example subset: the training loss falls, and every step record carries the learning rate the
 * schedule gives its global step.
 */
class TrainingModesTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2]");
  static final ObjectMapper JSON = new ObjectMapper();

  @ParameterizedTest(name = "batchSize {0} ({1}), {2}")
  @CsvSource({
    "0, full batch, gradient_sharing, 20, 0.05",
    "40, mini-batch, parameter_averaging, 4, 0.005",
    "1, online, collective, 2, 0.002"
  })
  void lossFallsInEveryTrainingMode(
      int batchSize, String mode, String sync, int epochs, double lr, @TempDir Path tmp)
      throws Exception {
    List<String> settings =
        new ArrayList<>(
            List.of(
                "data.mirror=" + TestDatasets.mirror(),
                "data.cacheDir=" + tmp.resolve("cache"),
                "data.trainLimit=400",
                "model.layers=[{type: dense, units: 32, activation: relu},"
                    + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
                "optimizer.learningRate=" + lr,
                "optimizer.schedule={type: cosine, steps: 0, finalRate: "
                    + lr / 10
                    + ","
                    + " warmupSteps: 2}",
                "training.epochs=" + epochs,
                "training.batchSize=" + batchSize,
                "training.logEvery=1",
                "cluster.sync=" + sync,
                "cluster.averagingSteps=2"));
    SpindleConfig config = ConfigLoader.load(null, settings);
    Path out = tmp.resolve("run");
    Map<String, Object> summary =
        TrainJob.run(
            SPARK.sc(),
            config,
            new RunOutput(out),
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    int global = batchSize == 0 ? 400 : batchSize;
    long stepsPerEpoch = (400 + global - 1) / global;
    assertEquals(global, summary.get("global_batch"));
    assertEquals(epochs * stepsPerEpoch, ((Number) summary.get("steps")).longValue());

    List<JsonNode> records = new ArrayList<>();
    for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
      records.add(JSON.readTree(line));
    }
    List<JsonNode> epochRecords =
        records.stream().filter(r -> r.path("type").asText().equals("epoch")).toList();
    assertEquals(epochs, epochRecords.size());
    double first = epochRecords.get(0).path("train_loss").asDouble();
    double last = epochRecords.get(epochs - 1).path("train_loss").asDouble();
    assertTrue(
        last < 0.8 * first,
        mode + ": training loss " + first + " in the first epoch, " + last + " in the last");

    // the schedule the run applied: cosine stretched over the run after 2 warm-up steps
    LearningRateSchedule schedule =
        LearningRateSchedule.of(config.optimizer().resolve(global, epochs * stepsPerEpoch));
    List<JsonNode> steps =
        records.stream().filter(r -> r.path("type").asText().equals("step")).toList();
    assertTrue(!steps.isEmpty(), "step records");
    for (JsonNode r : steps) {
      long j = r.path("global_step").asLong() - 1;
      assertEquals(
          schedule.rate(j), r.path("learning_rate").asDouble(), 1e-12, "learning_rate " + r);
    }
    double lastRate = steps.get(steps.size() - 1).path("learning_rate").asDouble();
    assertTrue(lastRate < lr / 5, "the cosine has nearly reached a_min = lr/10: " + lastRate);
  }
}
