package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SteadyRateTest {
  private static String step(int epoch, int step, double rate) {
    return "{\"type\":\"step\",\"epoch\":"
        + epoch
        + ",\"step\":"
        + step
        + ",\"samples_per_second\":"
        + rate
        + "}";
  }

  @Test
  void medianOfTheWindowsWithoutEachEpochsFirst(@TempDir Path dir) throws Exception {
    Path metrics = dir.resolve("metrics.jsonl");
    Files.write(
        metrics,
        List.of(
            step(1, 20, 100), // round start: left out
            step(1, 40, 11000),
            step(1, 60, 5000),
            "{\"type\":\"epoch\",\"epoch\":1,\"samples_per_second\":7000}",
            step(2, 5, 50), // round start: left out
            step(2, 25, 12000),
            step(2, 45, 11500)));
    // 5000, 11000, 11500, 12000: the mean of the middle two
    assertEquals(11250, SpindleBaseline.steadySamplesPerSecond(metrics), 1e-9);
  }

  @Test
  void evenCountAveragesTheMiddleTwoAndTooFewGiveNull(@TempDir Path dir) throws Exception {
    Path metrics = dir.resolve("metrics.jsonl");
    Files.write(
        metrics,
        List.of(step(1, 1, 1), step(1, 2, 10), step(1, 3, 20), step(1, 4, 40), step(1, 5, 30)));
    assertEquals(25, SpindleBaseline.steadySamplesPerSecond(metrics), 1e-9);
    Files.write(metrics, List.of(step(1, 1, 1), step(1, 2, 10), step(1, 3, 20)));
    assertNull(SpindleBaseline.steadySamplesPerSecond(metrics));
  }
}
