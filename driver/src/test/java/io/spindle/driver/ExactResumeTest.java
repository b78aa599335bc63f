package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.checkpoint.Checkpoint;
import io.spindle.driver.checkpoint.CheckpointStore;
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
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A run stopped at step k and resumed from its checkpoint ends with exactly the parameters and
 * optimiser state (bit for bit) of a run that was never interrupted.
 */
class ExactResumeTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2]");

  /** 1,200 examples, batch 100: 12 steps per epoch, 2 epochs, dropout on, Adam. */
  static List<String> settings(Path tmp, String sync) {
    return new ArrayList<>(
        List.of(
            "data.mirror=" + TestDatasets.mirror(),
            "data.cacheDir=" + tmp.resolve("cache"),
            "data.trainLimit=1200",
            "model.layers=[{type: dense, units: 32, activation: relu, dropout: 0.1},"
                + " {type: output, units: 10, activation: softmax, loss: cross_entropy,"
                + " dropout: 0.2}]",
            "training.epochs=2",
            "training.batchSize=100",
            "training.logEvery=4",
            "cluster.sync=" + sync,
            "cluster.averagingSteps=4",
            "cluster.roundSteps=4",
            "checkpoint.everySteps=4",
            "checkpoint.keepLast=10"));
  }

  static Map<String, Object> train(Path out, List<String> settings, String... more) {
    return train(SPARK.sc(), out, settings, more);
  }

  static Map<String, Object> train(
      org.apache.spark.api.java.JavaSparkContext sc,
      Path out,
      List<String> settings,
      String... more) {
    List<String> all = new ArrayList<>(settings);
    all.addAll(List.of(more));
    SpindleConfig config = ConfigLoader.load(null, all);
    return TrainJob.run(
        sc,
        config,
        new RunOutput(out),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }

  static CheckpointStore store(Path out) {
    return CheckpointStore.open(out.resolve("checkpoints").toUri().toString(), new Configuration());
  }

  /** The newest checkpoint of a run (its final state). */
  static Checkpoint last(Path out) {
    CheckpointStore s = store(out);
    return s.read(s.pathOf(s.steps().get(0)));
  }

  static void assertSameState(Checkpoint expected, Checkpoint actual) {
    assertEquals(expected.globalStep(), actual.globalStep());
    assertEquals(expected.examplesSeen(), actual.examplesSeen());
    for (String file : List.of(CheckpointStore.PARAMS, CheckpointStore.OPTIMIZER)) {
      assertEquals(
          expected.manifest().path("files").path(file).path("sha256").asText(),
          actual.manifest().path("files").path(file).path("sha256").asText(),
          file + " differs from the uninterrupted run's");
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"gradient_sharing", "parameter_averaging", "collective"})
  void stoppedAndResumedRunEqualsUninterruptedBitForBit(String sync, @TempDir Path tmp)
      throws Exception {
    List<String> s = settings(tmp, sync);
    Path whole = tmp.resolve("whole");
    Map<String, Object> wholeSummary = train(whole, s);
    assertEquals(24L, wholeSummary.get("steps"));

    Path parts = tmp.resolve("parts");
    train(parts, s, "training.maxSteps=8");
    assertEquals(8, last(parts).globalStep());
    // second leg crosses the epoch boundary, third finishes the run
    train(parts, s, "training.maxSteps=16", "checkpoint.resume=auto");
    assertEquals(16, last(parts).globalStep());
    Map<String, Object> summary = train(parts, s, "checkpoint.resume=auto");

    assertEquals(24L, summary.get("steps"));
    assertEquals(2, summary.get("epochs"));
    assertSameState(last(whole), last(parts));
    assertEquals(wholeSummary.get("test_accuracy"), summary.get("test_accuracy"));
    assertTrue(
        Files.readAllLines(parts.resolve("metrics.jsonl")).stream()
                .filter(l -> l.contains("\"type\":\"epoch\""))
                .count()
            >= 2,
        "the resumed run appends to metrics.jsonl");
  }

  /**
   * A learning-rate schedule is a function of the global step, so a resumed run continues it
   * exactly: warm-up, then linear decay stretched over the whole run (steps: 0), under collective.
   */
  @Test
  void aResumedRunContinuesTheLearningRateScheduleExactly(@TempDir Path tmp) throws Exception {
    List<String> s = settings(tmp, "collective");
    s.add("optimizer.schedule={type: linear, steps: 0, finalRate: 0.0, warmupSteps: 3}");
    Path whole = tmp.resolve("whole");
    train(whole, s);
    Path parts = tmp.resolve("parts");
    train(parts, s, "training.maxSteps=8");
    train(parts, s, "checkpoint.resume=auto");
    assertSameState(last(whole), last(parts));
    List<String> rates = new ArrayList<>();
    for (Path run : List.of(whole, parts)) {
      rates.add(
          Files.readAllLines(run.resolve("metrics.jsonl")).stream()
              .filter(l -> l.contains("\"type\":\"step\""))
              .map(l -> l.replaceAll(".*\"learning_rate\":([^,]*),.*", "$1"))
              .toList()
              .toString());
    }
    assertEquals(rates.get(0), rates.get(1), "learning rates of the step records");
    // training.epochs is part of a schedule stretched over the run: changing it is refused
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> train(parts, s, "checkpoint.resume=auto", "training.epochs=3"));
    assertTrue(e.getMessage().contains("training.epochs"), e.getMessage());
  }

  @Test
  void resumeRefusesACheckpointOfADifferentTrajectory(@TempDir Path tmp) {
    List<String> s = settings(tmp, "gradient_sharing");
    Path out = tmp.resolve("run");
    train(out, s, "training.maxSteps=4");
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> train(out, s, "checkpoint.resume=auto", "training.seed=7"));
    assertTrue(e.getMessage().contains("step-000000000004"), e.getMessage());
    assertTrue(e.getMessage().contains("training.seed"), e.getMessage());
    // gradient accumulation changes the float sums of every step: refused by name too
    ConfigException a =
        assertThrows(
            ConfigException.class,
            () -> train(out, s, "checkpoint.resume=auto", "training.accumulate=2"));
    assertTrue(a.getMessage().contains("training.accumulate"), a.getMessage());
    assertFalse(a.getMessage().contains("training.seed"), a.getMessage());
  }
}
