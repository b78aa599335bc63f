package io.spindle.config;

import static io.spindle.config.ConfigLoaderTest.assertContains;
import static io.spindle.config.ConfigLoaderTest.error;
import static io.spindle.config.ConfigLoaderTest.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Graph models and presets in YAML: named layers, inputs, merges, presets with options, and errors
 * that name the key and the line of the layer at fault.
 */
class GraphConfigTest {
  static final String BLOCK =
      """
      model:
        input: {type: image, height: 8, width: 8, channels: 3}
        layers:
          - {name: stem, type: conv2d, filters: 4, kernel: 3, padding: 1, activation: identity, bias: false}
          - {name: stem_bn, type: batch_norm}
          - {name: stem_relu, type: activation, activation: relu}
          - {name: c1, type: conv2d, filters: 4, kernel: 3, padding: 1, activation: identity, bias: false}
          - {name: b1, type: batch_norm, zeroGamma: true}
          - {name: sum, type: add, inputs: [b1, stem_relu]}
          - {name: out, type: activation, activation: relu}
          - {name: cat, type: concat, inputs: [out, stem_relu]}
          - {type: global_avg_pool}
          - {type: output, units: 10, activation: softmax, loss: cross_entropy, labelSmoothing: 0.1}
      """;

  @Test
  void aResidualBlockParsesIntoAGraphAndRoundTrips() {
    SpindleConfig c = parse(BLOCK);
    ModelConfig m = c.model();
    assertTrue(m.isGraph());
    assertEquals(List.of("b1", "stem_relu"), m.layers().get(5).inputs());
    assertFalse(m.layers().get(0).hasBias());
    assertTrue(m.layers().get(1).hasBias()); // absent = default
    assertTrue(m.layers().get(4).zeroGamma());
    assertEquals(0.1, m.outputLayer().labelSmoothing());
    GraphLayout layout = m.graph();
    assertEquals("global_avg_pool_8", layout.nodes().get(8).name());
    assertEquals(List.of("cat"), layout.nodes().get(8).inputs());
    assertEquals(List.of("input"), layout.nodes().get(0).inputs());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "written", List.of()));
  }

  @Test
  void aPlainListStaysAStack() {
    assertFalse(parse("").model().isGraph());
    assertFalse(
        parse(
                """
                model:
                  layers:
                    - {name: hidden, type: dense, units: 10, activation: relu}
                    - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                """)
            .model()
            .isGraph());
  }

  @Test
  void wiringErrorsNameTheLayerAndItsLine() {
    assertContains(
        error(BLOCK.replace("inputs: [b1, stem_relu]", "inputs: [b1, stem_rleu]")),
        "config.yaml line 9",
        "model: layers[5].inputs: 'stem_rleu' is not the name of a layer",
        "stem_relu");
    assertContains(
        error(BLOCK.replace("inputs: [b1, stem_relu]", "inputs: [b1, cat]")),
        "config.yaml line 9",
        "'cat' is layers[7], which is not listed before layers[5]");
    assertContains(
        error(BLOCK.replace("{name: b1,", "{name: stem,")),
        "config.yaml line 8",
        "layers[4].name: 'stem' is already the name of layers[0]");
    assertContains(
        error(BLOCK.replace("inputs: [out, stem_relu]", "inputs: [stem_relu, b1]")),
        "config.yaml line 10",
        "layers[6]: no later layer reads 'out'");
    assertContains(
        error(BLOCK.replace("type: add, inputs: [b1, stem_relu]", "type: add, inputs: [b1]")),
        "config.yaml line 9",
        "model.layers[5]",
        "inputs of a add layer must name at least 2 layers");
    assertContains(
        error(
            BLOCK.replace(
                "{name: c1, type: conv2d, filters: 4, kernel: 3, padding: 1,",
                "{name: c1, type: dense, units: 4,")),
        "layers[5].type: a add layer needs inputs of one kind, but 'b1' is flat and 'stem_relu'"
            + " is image");
    assertContains(
        error(BLOCK.replace("zeroGamma: true", "zeroGamma: true, bias: false")),
        "config.yaml line 8",
        "bias does not apply to a batch_norm layer");
    assertContains(
        error(BLOCK.replace("loss: cross_entropy, labelSmoothing", "loss: mse, labelSmoothing")),
        "labelSmoothing applies to an output layer with activation softmax and loss cross_entropy");
  }

  @Test
  void anActivationLayerMustBeTheOnlyReaderOfItsInput() {
    assertContains(
        error(
            BLOCK.replace(
                "{name: cat, type: concat, inputs: [out, stem_relu]}",
                "{name: cat, type: concat, inputs: [out, sum]}")),
        "layers[6].inputs: an activation layer must be the only reader of 'sum'");
  }

  @Test
  void aPresetStandsForItsLayersAndTakesOptions() {
    SpindleConfig c =
        parse(
            """
            model:
              preset: {name: resnet20, classes: 100, zeroGamma: true}
            """);
    ModelConfig m = c.model();
    assertEquals(new PresetConfig("resnet20", 16, 100, "a", true), m.preset());
    assertEquals(ResNets.layers(m.preset()), m.layers());
    assertEquals(100, m.outputLayer().units());
    assertTrue(m.isGraph());
    // 19 convolutions with batch norm, 9 blocks
    assertEquals(19, m.layers().stream().filter(l -> l.type() == LayerType.CONV2D).count());
    assertEquals(9, m.layers().stream().filter(l -> l.type() == LayerType.ADD).count());
    assertEquals(9, m.layers().stream().filter(LayerConfig::zeroGamma).count());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "written", List.of()));

    SpindleConfig set = parse("", "model.preset={name: resnet56, width: 8}");
    assertEquals(new PresetConfig("resnet56", 8, 10, "a", false), set.model().preset());
    assertEquals(
        55, set.model().layers().stream().filter(l -> l.type() == LayerType.CONV2D).count());
    assertEquals(new PresetConfig("resnet50", 64, 1000, "b", false), PresetConfig.of("ResNet50"));
  }

  @Test
  void presetErrorsNameTheKey() {
    assertContains(
        error("model:\n  preset: {name: resnet21}\n"),
        "config.yaml line 2",
        "model.preset: name must be resnet18",
        "got 'resnet21'");
    assertContains(
        error("model:\n  preset: {name: resnet20, shortcut: c}\n"),
        "model.preset: shortcut must be a or b, got 'c'");
    assertContains(
        error(
            """
            model:
              preset: {name: resnet20}
              layers:
                - {type: output, units: 10, activation: softmax, loss: cross_entropy}
            """),
        "config.yaml line 4",
        "layers must be absent when preset is set (preset resnet20 defines them)");
  }
}
