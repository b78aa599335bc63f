package io.spindle.config;

import static io.spindle.config.ConfigLoaderTest.assertContains;
import static io.spindle.config.ConfigLoaderTest.error;
import static io.spindle.config.ConfigLoaderTest.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The layer and input schema: parsing, defaults, shape checks and error messages. */
class LayerConfigTest {
  static String model(String layers) {
    return "model:\n  layers:\n" + layers;
  }

  @Test
  void aCnnParsesWithDefaultsForStrideAndPaddingAndRoundTrips() {
    SpindleConfig c =
        parse(
            """
            model:
              input: {type: image, height: 28, width: 28, channels: 1}
              maxNorm: 3.0
              layers:
                - {type: conv2d, filters: 8, kernel: 3, activation: leaky_relu}
                - {type: batch_norm}
                - {type: max_pool, kernel: 2}
                - {type: dropout, dropout: 0.25}
                - {type: output, units: 10, activation: sigmoid, loss: binary_cross_entropy}
            """);
    LayerConfig conv = c.model().layers().get(0);
    assertEquals(LayerType.CONV2D, conv.type());
    assertEquals(1, conv.stride());
    assertEquals(0, conv.padding());
    assertEquals(Activation.LEAKY_RELU, conv.activation());
    assertEquals(2, c.model().layers().get(2).stride(), "pooling stride defaults to the kernel");
    assertNull(c.model().layers().get(1).activation());
    assertEquals(InputConfig.image(28, 28, 1), c.model().input());
    assertEquals(3.0, c.model().maxNorm());
    assertEquals(Loss.BINARY_CROSS_ENTROPY, c.model().outputLayer().loss());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "written", List.of()));
  }

  @Test
  void oldConfigsKeepTheirMeaning() {
    SpindleConfig c = parse("");
    assertNull(c.model().input());
    assertEquals(0.0, c.model().maxNorm());
    assertEquals(InputConfig.flat(), c.model().inputFor(784));
  }

  @Test
  void aFieldThatDoesNotApplyIsRefusedWithItsKeyAndLine() {
    String e =
        error(
            model(
                """
                    - {type: dense, units: 10, activation: relu}
                    - {type: dense, units: 10, activation: relu, kernel: 3}
                    - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                """));
    assertContains(e, "config.yaml line 4", "model.layers[1]", "kernel does not apply to a dense");
  }

  @Test
  void missingRequiredFieldsNameTheKey() {
    assertContains(
        error(
            model(
                """
                    - {type: conv2d, filters: 4, activation: relu}
                    - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                """)),
        "model.layers[0]",
        "kernel must be > 0, got 0");
    assertContains(
        error(
            model(
                """
                    - {type: lstm, units: 4}
                    - {type: last_time_step}
                    - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                """)),
        "model.layers[0]",
        "activation is required for a lstm layer");
    assertContains(
        error(
            model(
                """
                    - {type: self_attention, units: 6, heads: 4}
                    - {type: global_avg_pool}
                    - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                """)),
        "heads must divide units");
  }

  @Test
  void layersThatCannotConnectAreRefusedWithAHint() {
    assertContains(
        error(
            model(
                """
                    - {type: lstm, units: 4, activation: tanh}
                    - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                """)),
        "model: layers[1].type",
        "needs flat or image input, but layers[0] is sequence",
        "last_time_step");
    assertContains(
        error(
            model(
                """
                    - {type: dense, units: 4, activation: relu}
                    - {type: conv2d, filters: 2, kernel: 3, activation: relu}
                    - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                """)),
        "layers[1].type",
        "needs image input");
    assertContains(
        error(
            model(
                """
                    - {type: dense, units: 4, activation: relu}
                    - {type: last_time_step}
                    - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                """)),
        "must directly follow an lstm or simple_rnn layer");
  }

  @Test
  void inputShapesAreValidatedAndInferred() {
    assertContains(
        error("model:\n  input: {type: image, height: 28, width: 28}\n"),
        "model.input",
        "channels");
    assertContains(
        error("model:\n  input: {type: flat, steps: 3}\n"), "steps does not apply to a flat input");
    ModelConfig cnn =
        parse(
                model(
                    """
                        - {type: conv2d, filters: 4, kernel: 3, activation: relu}
                        - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                    """))
            .model();
    assertEquals(InputConfig.image(28, 28, 1), cnn.inputFor(784));
    assertEquals(InputConfig.image(32, 32, 3), cnn.inputFor(3072));
    assertContains(
        assertThrows(ConfigException.class, () -> cnn.inputFor(1000)).getMessage(),
        "model.input: cannot infer an image shape from 1000 features");
    ModelConfig rnn =
        parse(
                model(
                    """
                        - {type: simple_rnn, units: 4, activation: tanh}
                        - {type: last_time_step}
                        - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                    """))
            .model();
    assertEquals(InputConfig.sequence(28, 28), rnn.inputFor(784));
    ModelConfig sized =
        parse(
                "model:\n  input: {type: sequence, steps: 7, features: 4}\n"
                    + model(
                            """
                            - {type: lstm, units: 4, activation: tanh}
                            - {type: last_time_step}
                            - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                        """)
                        .substring("model:\n".length()))
            .model();
    assertContains(
        assertThrows(ConfigException.class, () -> sized.inputFor(784)).getMessage(),
        "model.input: sequence of 7 steps x 4 features holds 28 values per example",
        "784 features");
    assertContains(
        error(
            "model:\n  input: {type: sequence, steps: 7, features: 2}\n"
                + model(
                        """
                        - {type: embedding, vocabulary: 5, units: 4}
                        - {type: global_avg_pool}
                        - {type: output, units: 10, activation: softmax, loss: cross_entropy}
                    """)
                    .substring("model:\n".length())),
        "input.features",
        "features: 1");
  }
}
