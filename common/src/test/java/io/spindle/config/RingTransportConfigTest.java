package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code cluster.ringTransport}: default, the round trip through YAML, unknown values. */
class RingTransportConfigTest {
  @Test
  void defaultsToAutoAndRoundTrips() {
    assertEquals(RingTransport.AUTO, SpindleConfig.defaults().cluster().ringTransport());
    SpindleConfig c = ConfigLoader.load(null, List.of("cluster.ringTransport=tcp"));
    assertEquals(RingTransport.TCP, c.cluster().ringTransport());
    assertTrue(ConfigLoader.toYaml(c).contains("ringTransport: tcp"), ConfigLoader.toYaml(c));
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "round trip", List.of()));
  }

  @Test
  void aConfigWithoutTheKeyGetsAuto() {
    SpindleConfig c = ConfigLoader.parse("cluster:\n  workers: 2\n", "old.yaml", List.of());
    assertEquals(RingTransport.AUTO, c.cluster().ringTransport());
  }

  @Test
  void unknownValuesNameTheKeyAndTheChoices() {
    String m =
        assertThrows(
                ConfigException.class,
                () -> ConfigLoader.load(null, List.of("cluster.ringTransport=shm")))
            .getMessage();
    assertTrue(m.contains("cluster.ringTransport: expected one of [auto, tcp], got 'shm'"), m);
  }
}
