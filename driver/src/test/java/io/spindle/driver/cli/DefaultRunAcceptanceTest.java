package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job exactly as {@code ./spindle train} runs it: the default config (MLP 784-800-800-10
 * on MNIST, 8 epochs, two workers all-reducing gradients with the collective engine in local mode),
 * data from the mirror given by SPINDLE_DATA_MIRROR (set by the build for tests). About two minutes
 * on two cores.
 */
class DefaultRunAcceptanceTest {
  @Test
  void defaultTrainingReachesNinetyEightPercent(@TempDir Path tmp) throws Exception {
    assertTrue(
        System.getenv("SPINDLE_DATA_MIRROR") != null,
        "the build must set SPINDLE_DATA_MIRROR to ../shared/datasets for tests");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        SpindleCli.run(
            new String[] {"train", "--output", tmp.toString()},
            System.out,
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
    JsonNode summary = new ObjectMapper().readTree(tmp.resolve("summary.json").toFile());
    double accuracy = summary.get("test_accuracy").asDouble();
    assertTrue(accuracy >= 0.98, "test accuracy " + accuracy + " < 0.98");
    assertEquals(8, summary.get("epochs").asInt());
    assertEquals("collective", summary.get("sync").asText());
    assertEquals(2, summary.get("workers").asInt());
  }
}
