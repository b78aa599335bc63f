package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code model.precision}: its values (bf16 included), its errors, its storage type. */
class PrecisionConfigTest {
  @Test
  void readsEachValueAndSurvivesARoundTrip() {
    assertEquals(Precision.FLOAT32, ConfigLoader.parse("", "t", List.of()).model().precision());
    for (Precision p : Precision.values()) {
      SpindleConfig c =
          ConfigLoader.parse("model:\n  precision: " + p.configName() + "\n", "t.yaml", List.of());
      assertEquals(p, c.model().precision());
      assertEquals(
          p, ConfigLoader.parse(ConfigLoader.toYaml(c), "back", List.of()).model().precision());
    }
    assertEquals(
        Precision.BF16,
        ConfigLoader.parse("", "t", List.of("model.precision=bf16")).model().precision());
  }

  @Test
  void anUnknownValueNamesTheFileTheKeyAndTheChoices() {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> ConfigLoader.parse("model:\n  precision: fp8\n", "t.yaml", List.of()));
    assertTrue(e.getMessage().contains("model.precision"), e.getMessage());
    assertTrue(e.getMessage().contains("t.yaml"), e.getMessage());
    assertTrue(e.getMessage().contains("fp8"), e.getMessage());
    assertTrue(
        e.getMessage().contains("bf16") && e.getMessage().contains("float32"), e.getMessage());
  }

  @Test
  void bf16StoresFloat32() {
    assertEquals(Precision.FLOAT32, Precision.BF16.storage());
    assertEquals(Precision.FLOAT32, Precision.FLOAT32.storage());
    assertEquals(Precision.FLOAT64, Precision.FLOAT64.storage());
    ModelConfig m = ConfigLoader.parse("", "t", List.of()).model();
    ModelConfig b = m.withPrecision(Precision.BF16);
    assertEquals(Precision.BF16, b.precision());
    assertEquals(m, b.withPrecision(m.precision()));
  }
}
