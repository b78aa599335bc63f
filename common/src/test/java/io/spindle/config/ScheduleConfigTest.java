package io.spindle.config;

import static io.spindle.config.ConfigLoaderTest.assertContains;
import static io.spindle.config.ConfigLoaderTest.error;
import static io.spindle.config.ConfigLoaderTest.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** optimizer.schedule and training.batchSize's modes, read from YAML and validated. */
class ScheduleConfigTest {
  @Test
  void theDefaultIsAConstantRateAndAdamsBetasArePointNineAndPointNineNineNine() {
    OptimizerConfig o = SpindleConfig.defaults().optimizer();
    assertEquals(ScheduleType.CONSTANT, o.schedule().type());
    assertEquals(0, o.schedule().warmupSteps());
    assertEquals(0, o.schedule().referenceBatch());
    assertEquals(0.9, o.beta1());
    assertEquals(0.999, o.beta2());
    assertEquals(OptimizerType.ADAM, o.type());
  }

  @Test
  void aScheduleIsReadFromYamlAndMissingKeysKeepTheirDefaults() {
    SpindleConfig c =
        parse(
            """
            optimizer:
              learningRate: 0.01
              schedule:
                type: cosine
                steps: 500
                finalRate: 0.0001
                warmupSteps: 20
            """);
    ScheduleConfig s = c.optimizer().schedule();
    assertEquals(
        new ScheduleConfig(ScheduleType.COSINE, 500, 1e-4, 1000, 0.1, 20, 0),
        s,
        "stepSize, gamma and referenceBatch keep their defaults");
    assertEquals(0.01, c.optimizer().learningRate());
    SpindleConfig o =
        parse(
            "",
            "optimizer.schedule.type=step",
            "optimizer.schedule.gamma=0.5",
            "optimizer.schedule.referenceBatch=256");
    assertEquals(ScheduleType.STEP, o.optimizer().schedule().type());
    assertEquals(0.5, o.optimizer().schedule().gamma());
    assertEquals(256, o.optimizer().schedule().referenceBatch());
  }

  @Test
  void theEffectiveConfigWritesTheScheduleAndReadsItBack() {
    SpindleConfig c =
        parse(
            "",
            "optimizer.schedule={type: linear, steps: 0, finalRate: 0.0, warmupSteps: 5}",
            "training.batchSize=0");
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "written", List.of()));
    assertTrue(ConfigLoader.toYaml(c).contains("schedule:"));
  }

  @Test
  void badScheduleValuesNameTheKeyTheLineAndTheExpectedValue() {
    assertContains(
        error("optimizer:\n  schedule:\n    type: cosine\n    gamma: 1.5\n"),
        "config.yaml line 4",
        "optimizer.schedule: gamma must be in (0, 1], got 1.5");
    assertContains(
        error("optimizer:\n  schedule:\n    stepSize: 0\n"),
        "config.yaml line 3",
        "optimizer.schedule: stepSize must be > 0, got 0");
    assertContains(
        error("optimizer:\n  schedule:\n    warmupSteps: -3\n"), "warmupSteps must be >= 0");
    assertContains(
        error("optimizer:\n  schedule:\n    type: triangle\n"),
        "optimizer.schedule.type: expected one of [constant, linear, step, multistep, exponential, cosine]",
        "'triangle'");
    assertContains(
        error("optimizer:\n  schedule:\n    warmup: 10\n"),
        "config.yaml line 3",
        "unknown key 'optimizer.schedule.warmup'",
        "warmupSteps");
    assertContains(
        error("optimizer:\n  learningRate: 0.01\n  schedule: {type: cosine, finalRate: 0.1}\n"),
        "config.yaml line 3",
        "finalRate (a_min of the cosine schedule) must be <= learningRate 0.01, got 0.1");
    assertContains(
        error("", "optimizer.schedule.referenceBatch=-1"),
        "--set optimizer.schedule.referenceBatch=-1",
        "referenceBatch must be >= 0, got -1");
    assertContains(
        error("", "optimizer.schedule.finalRate=-0.5"), "finalRate must be >= 0, got -0.5");
  }

  @Test
  void batchSizeZeroMeansFullBatchAndNegativeIsRefused() {
    assertTrue(parse("training:\n  batchSize: 0\n").training().fullBatch());
    assertEquals(1, parse("", "training.batchSize=1").training().batchSize());
    assertContains(
        error("training:\n  batchSize: -1\n"),
        "config.yaml line 2",
        "batchSize must be >= 0, got -1");
    assertContains(
        error("training:\n  batchSize: full\n"),
        "training.batchSize: expected an integer, got 'full'");
  }
}
