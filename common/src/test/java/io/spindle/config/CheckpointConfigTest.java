package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The checkpoint section: defaults, binding, round trip and the errors of bad values. */
class CheckpointConfigTest {
  private static String error(String yaml, String... overrides) {
    return assertThrows(
            ConfigException.class, () -> ConfigLoader.parse(yaml, "run.yaml", List.of(overrides)))
        .getMessage();
  }

  @Test
  void defaultsCheckpointEveryEpochWithoutResume() {
    CheckpointConfig c = SpindleConfig.defaults().checkpoint();
    assertEquals(new CheckpointConfig(0, true, 3, 0, "", ResumeMode.NEVER), c);
    assertTrue(c.enabled());
    assertFalse(new CheckpointConfig(0, false, 1, 0, "", ResumeMode.NEVER).enabled());
  }

  @Test
  void bindsFromYamlAndSetAndRoundTrips() {
    SpindleConfig c =
        ConfigLoader.parse(
            "checkpoint:\n  everySteps: 50\n  keepEvery: 1000\n  dir: hdfs://nn/ck\n",
            "run.yaml",
            List.of("checkpoint.resume=auto", "checkpoint.everyEpoch=false"));
    assertEquals(
        new CheckpointConfig(50, false, 3, 1000, "hdfs://nn/ck", ResumeMode.AUTO), c.checkpoint());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "written", List.of()));
  }

  @Test
  void badValuesNameTheKeyTheLineAndTheExpectation() {
    String e = error("checkpoint:\n  everySteps: 5\n  keepLast: 0\n");
    assertTrue(e.contains("run.yaml line 3") && e.contains("keepLast must be > 0, got 0"), e);
    e = error("", "checkpoint.everySteps=-1");
    assertTrue(e.contains("--set checkpoint.everySteps=-1") && e.contains("must be >= 0"), e);
    e = error("", "checkpoint.resume=maybe");
    assertTrue(e.contains("checkpoint.resume: expected one of [never, auto], got 'maybe'"), e);
    e = error("checkpoint:\n  evrySteps: 5\n");
    assertTrue(e.contains("unknown key 'checkpoint.evrySteps'") && e.contains("everySteps"), e);
  }
}
