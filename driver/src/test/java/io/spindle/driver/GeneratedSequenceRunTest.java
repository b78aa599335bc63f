package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.Example;
import io.spindle.data.GeneratedSequences;
import io.spindle.driver.job.TrainJob;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generated majority-tokens data set and the attention example end to end: the example config
 * (shortened) trains through the collective engine and learns the task.
 */
class GeneratedSequenceRunTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2,3]");

  @Test
  void examplesAreDeterministicAndLabelledByTheMostFrequentToken() {
    for (int i = 0; i < 200; i++) {
      Example e = GeneratedSequences.example(i, false);
      assertEquals(e.label(), GeneratedSequences.example(i, false).label());
      float[] x = e.features();
      assertEquals(GeneratedSequences.STEPS, x.length);
      int[] counts = new int[GeneratedSequences.VOCABULARY];
      for (float t : x) {
        counts[(int) t]++;
      }
      for (int k = 0; k < counts.length; k++) {
        assertTrue(
            counts[k] < counts[e.label()] || (counts[k] == counts[e.label()] && k >= e.label()),
            "example "
                + i
                + ": label "
                + e.label()
                + " counts "
                + java.util.Arrays.toString(counts));
      }
    }
    assertNotEquals(
        java.util.Arrays.toString(GeneratedSequences.example(0, false).features()),
        java.util.Arrays.toString(GeneratedSequences.example(0, true).features()));
  }

  @Test
  void theAttentionExampleLearnsTheMajorityTask(@TempDir Path tmp) throws Exception {
    SpindleConfig config =
        ConfigLoader.load(
            Path.of("..", "deploy", "examples", "majority-tokens-attention.yaml"),
            List.of("data.trainLimit=4000", "training.epochs=2", "training.logEvery=20"));
    Map<String, Object> summary =
        TrainJob.run(
            SPARK.sc(),
            config,
            new RunOutput(tmp.resolve("run")),
            new PrintStream(new ByteArrayOutputStream(), true, "UTF-8"));
    double accuracy = ((Number) summary.get("test_accuracy")).doubleValue();
    // a constant guess scores at most ~0.3 (4 classes); counting tokens solves the task
    assertTrue(accuracy > 0.6, "test accuracy " + accuracy);
  }
}
