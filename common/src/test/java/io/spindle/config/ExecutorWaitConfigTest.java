package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code cluster.executorWaitSeconds}: its default, its range, and the round trip through YAML. */
class ExecutorWaitConfigTest {
  @Test
  void defaultsTo120AndRoundTrips() {
    assertEquals(120, SpindleConfig.defaults().cluster().executorWaitSeconds());
    SpindleConfig c = ConfigLoader.load(null, List.of("cluster.executorWaitSeconds=0"));
    assertEquals(0, c.cluster().executorWaitSeconds());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "round trip", List.of()));
  }

  @Test
  void negativeOrMoreThanADayIsRefusedNamingTheKey() {
    String negative =
        assertThrows(
                ConfigException.class,
                () -> ConfigLoader.load(null, List.of("cluster.executorWaitSeconds=-1")))
            .getMessage();
    assertTrue(negative.contains("executorWaitSeconds must be >= 0, got -1"), negative);
    String tooLong =
        assertThrows(
                ConfigException.class,
                () -> ConfigLoader.load(null, List.of("cluster.executorWaitSeconds=86401")))
            .getMessage();
    assertTrue(tooLong.contains("executorWaitSeconds must be <= 86400"), tooLong);
  }
}
