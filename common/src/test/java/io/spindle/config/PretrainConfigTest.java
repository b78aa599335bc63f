package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The pretrain section: defaults, binding, round trip and the errors of bad values. */
class PretrainConfigTest {
  private static String error(String yaml, String... overrides) {
    return assertThrows(
            ConfigException.class, () -> ConfigLoader.parse(yaml, "run.yaml", List.of(overrides)))
        .getMessage();
  }

  @Test
  void offByDefault() {
    PretrainConfig p = SpindleConfig.defaults().pretrain();
    assertFalse(p.enabled());
    assertEquals(
        new PretrainConfig(false, 5, 0.25, 0.0, Activation.SIGMOID, ReconstructionLoss.MSE, 0.0),
        p);
    OptimizerConfig o = OptimizerConfig.of(OptimizerType.MOMENTUM, 0.05);
    assertEquals(o, p.optimizer(o));
  }

  @Test
  void bindsFromYamlAndSetAndRoundTrips() {
    SpindleConfig c =
        ConfigLoader.parse(
            "pretrain:\n  enabled: true\n  epochsPerLayer: 3\n  loss: binary_cross_entropy\n",
            "run.yaml",
            List.of(
                "pretrain.gaussianSigma=0.1",
                "pretrain.maskProbability=0",
                "pretrain.learningRate=0.5"));
    assertEquals(
        new PretrainConfig(
            true, 3, 0.0, 0.1, Activation.SIGMOID, ReconstructionLoss.BINARY_CROSS_ENTROPY, 0.5),
        c.pretrain());
    assertEquals(0.5, c.pretrain().optimizer(c.optimizer()).learningRate());
    assertEquals(c.optimizer().type(), c.pretrain().optimizer(c.optimizer()).type());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "written", List.of()));
    assertTrue(ConfigLoader.toYaml(c).contains("pretrain:"), ConfigLoader.toYaml(c));
  }

  @Test
  void badValuesNameTheKeyTheLineAndTheExpectation() {
    String e = error("pretrain:\n  enabled: true\n  maskProbability: 1.0\n");
    assertTrue(
        e.contains("run.yaml line 3")
            && e.contains("pretrain: maskProbability must be in [0.0, 1.0), got 1.0"),
        e);
    e = error("", "pretrain.epochsPerLayer=0");
    assertTrue(e.contains("--set pretrain.epochsPerLayer=0") && e.contains("must be > 0"), e);
    e = error("", "pretrain.gaussianSigma=-0.5");
    assertTrue(e.contains("gaussianSigma must be >= 0, got -0.5"), e);
    e = error("", "pretrain.loss=cross_entropy");
    assertTrue(
        e.contains(
            "pretrain.loss: expected one of [mse, binary_cross_entropy], got" + " 'cross_entropy'"),
        e);
    e = error("pretrain:\n  loss: binary_cross_entropy\n  decoderActivation: tanh\n");
    assertTrue(
        e.contains("run.yaml line 3")
            && e.contains("decoderActivation must be sigmoid with loss binary_cross_entropy"),
        e);
    e = error("", "pretrain.decoderActivation=softmax");
    assertTrue(e.contains("decoderActivation must be sigmoid, tanh, relu or identity"), e);
    e = error("", "pretrain.learningRate=-1");
    assertTrue(e.contains("learningRate must be >= 0, got -1.0"), e);
    e = error("pretrain:\n  epochs: 3\n");
    assertTrue(e.contains("unknown key 'pretrain.epochs'") && e.contains("epochsPerLayer"), e);
  }
}
