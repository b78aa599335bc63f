package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.spindle.bench.BenchMetrics.EpochPoint;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchMetricsTest {
  @Test
  void allreduceBoundIsTwoNMinusOneOverNTimesModelBytes() {
    assertEquals(0.0, BenchMetrics.allreduceBoundBytes(1, 1000.0));
    assertEquals(1000.0, BenchMetrics.allreduceBoundBytes(2, 1000.0), 1e-9);
    assertEquals(1500.0, BenchMetrics.allreduceBoundBytes(4, 1000.0), 1e-9);
    assertEquals(2.0 * 7 / 8 * 5_107_240, BenchMetrics.allreduceBoundBytes(8, 5_107_240), 1e-6);
    assertThrows(IllegalArgumentException.class, () -> BenchMetrics.allreduceBoundBytes(0, 1));
  }

  @Test
  void defaultMlpMultiplyAddsAndFlopsFollowTheLayerSizes() {
    SpindleConfig defaults = ConfigLoader.parse("", "test", List.of());
    long macs = 784L * 800 + 800L * 800 + 800L * 10;
    assertEquals(macs, BenchMetrics.multiplyAddsPerExample(784, defaults.model()));
    assertEquals(6.0 * macs, BenchMetrics.flopsPerExample(784, defaults.model()));

    SpindleConfig small =
        ConfigLoader.parse(
            "",
            "test",
            List.of(
                "model.layers[0].units=3", "model.layers[1].units=5", "model.layers[2].units=2"));
    assertEquals(4 * 3 + 3 * 5 + 5 * 2, BenchMetrics.multiplyAddsPerExample(4, small.model()));
  }

  @Test
  void defaultModelBytesMatchTheParameterCount() {
    SpindleConfig defaults = ConfigLoader.parse("", "test", List.of());
    long params = 784L * 800 + 800 + 800L * 800 + 800 + 800L * 10 + 10;
    assertEquals(4.0 * params, BenchReport.modelBytes(defaults, 784));
  }

  @Test
  void timeToTargetIsTheCumulativeTimeOfTheFirstEpochReachingIt() {
    List<EpochPoint> points =
        List.of(
            new EpochPoint(1, 10.0, 0.95),
            new EpochPoint(2, 21.0, 0.971),
            new EpochPoint(3, 33.0, 0.969),
            new EpochPoint(4, 44.0, 0.98));
    assertEquals(21.0, BenchMetrics.timeToTarget(points, 0.97));
    assertEquals(10.0, BenchMetrics.timeToTarget(points, 0.95)); // reached exactly at epoch 1
    assertEquals(44.0, BenchMetrics.timeToTarget(points, 0.975));
    assertNull(BenchMetrics.timeToTarget(points, 0.99));
    assertNull(BenchMetrics.timeToTarget(List.of(), 0.5));
  }

  @Test
  void timeToTargetRefusesNonCumulativeSeconds() {
    List<EpochPoint> points = List.of(new EpochPoint(1, 10.0, 0.5), new EpochPoint(2, 5.0, 0.9));
    assertThrows(IllegalArgumentException.class, () -> BenchMetrics.timeToTarget(points, 0.8));
  }
}
