package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code model.kernels}: its default, its values, its errors, and that it survives a round trip.
 */
class KernelsConfigTest {
  @Test
  void defaultsToAutoAndReadsEachValue() {
    assertEquals(Kernels.AUTO, ConfigLoader.parse("", "t", List.of()).model().kernels());
    for (Kernels k : Kernels.values()) {
      SpindleConfig c =
          ConfigLoader.parse("model:\n  kernels: " + k.configName() + "\n", "t.yaml", List.of());
      assertEquals(k, c.model().kernels());
      SpindleConfig back = ConfigLoader.parse(ConfigLoader.toYaml(c), "back", List.of());
      assertEquals(k, back.model().kernels());
    }
    assertEquals(
        Kernels.DL4J, ConfigLoader.parse("", "t", List.of("model.kernels=dl4j")).model().kernels());
  }

  @Test
  void anUnknownValueNamesTheKeyAndTheChoices() {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> ConfigLoader.parse("model:\n  kernels: turbo\n", "t.yaml", List.of()));
    assertTrue(e.getMessage().contains("model.kernels"), e.getMessage());
    assertTrue(e.getMessage().contains("t.yaml"), e.getMessage());
    assertTrue(e.getMessage().contains("dl4j"), e.getMessage());
  }

  @Test
  void withKernelsKeepsEverythingElse() {
    ModelConfig m = ConfigLoader.parse("", "t", List.of()).model();
    ModelConfig f = m.withKernels(Kernels.FAST);
    assertEquals(Kernels.FAST, f.kernels());
    assertEquals(m, f.withKernels(m.kernels()));
  }
}
