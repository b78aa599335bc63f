package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  static SpindleConfig parse(String yaml, String... overrides) {
    return ConfigLoader.parse(yaml, "config.yaml", List.of(overrides));
  }

  static String error(String yaml, String... overrides) {
    return assertThrows(ConfigException.class, () -> parse(yaml, overrides)).getMessage();
  }

  static void assertContains(String message, String... parts) {
    for (String part : parts) {
      assertTrue(message.contains(part), "expected '" + part + "' in: " + message);
    }
  }

  @Test
  void emptyOrCommentOnlyFilesGiveTheDefaults() {
    assertEquals(SpindleConfig.defaults(), parse(""));
    assertEquals(SpindleConfig.defaults(), parse("# nothing here\n"));
    assertEquals(SpindleConfig.defaults(), ConfigLoader.load(null, List.of()));
  }

  @Test
  void fileValuesOverrideDefaultsAndKeepTheRest() {
    SpindleConfig c =
        parse(
            """
            optimizer:
              type: sgd
              learningRate: 0.05
            model:
              layers:
                - {type: dense, units: 100, activation: tanh, dropout: 0.2}
                - {type: output, units: 10, activation: softmax, loss: cross_entropy}
            cluster:
              sync: parameter_averaging
            """);
    assertEquals(OptimizerType.SGD, c.optimizer().type());
    assertEquals(0.05, c.optimizer().learningRate());
    assertEquals(SpindleConfig.defaults().optimizer().beta2(), c.optimizer().beta2());
    assertEquals(2, c.model().layers().size());
    assertEquals(0.2, c.model().layers().get(0).dropout());
    assertNull(c.model().layers().get(0).loss());
    assertEquals(SyncMode.PARAMETER_AVERAGING, c.cluster().sync());
    assertEquals(SpindleConfig.defaults().training(), c.training());
  }

  @Test
  void writtenYamlReadsBackEqual() {
    SpindleConfig c =
        parse(
            "training: {epochs: 3, seed: 9}\ndata: {mirror: /tmp/m}\n",
            "model.l2=0.0001",
            "model.layers[1].activation=tanh");
    assertEquals(c, parse(ConfigLoader.toYaml(c)));
    assertEquals(SpindleConfig.defaults(), parse(ConfigLoader.toYaml(SpindleConfig.defaults())));
  }

  @Test
  void overridesWinOverTheFile() {
    SpindleConfig c =
        parse(
            "optimizer:\n  learningRate: 0.5\n",
            "optimizer.learningRate=0.01",
            "training.epochs=2");
    assertEquals(0.01, c.optimizer().learningRate());
    assertEquals(2, c.training().epochs());
  }

  @Test
  void overridesReachIntoListsAndReplaceWholeLists() {
    SpindleConfig c = parse("", "model.layers[1].units=500");
    assertEquals(500, c.model().layers().get(1).units());
    assertEquals(800, c.model().layers().get(0).units());
    SpindleConfig d =
        parse("", "model.layers=[{type: output, units: 10, activation: softmax, loss: mse}]");
    assertEquals(1, d.model().layers().size());
    assertEquals(Loss.MSE, d.model().layers().get(0).loss());
  }

  @Test
  void unknownKeyNamesKeyLineAndExpectedKeys() {
    String m = error("optimizer:\n  type: adam\n  learningrate: 0.1\n");
    assertContains(m, "config.yaml line 3", "unknown key 'optimizer.learningrate'", "learningRate");
    assertContains(error("optimiser: {}\n"), "line 1", "unknown key 'optimiser'", "optimizer");
    assertContains(
        error("model:\n  layers:\n    - {type: dense, units: 3, activation: relu, size: 2}\n"),
        "line 3",
        "unknown key 'model.layers[0].size'");
  }

  @Test
  void badValuesNameKeyLineExpectedAndFound() {
    assertContains(
        error("training:\n  batchSize: abc\n"),
        "line 2",
        "training.batchSize",
        "expected an integer",
        "'abc'");
    assertContains(
        error("optimizer:\n  type: adamw\n"),
        "line 2",
        "optimizer.type",
        "one of [sgd, momentum, nesterov, adagrad, rmsprop, adam]",
        "'adamw'");
    assertContains(error("training:\n  epochs: 99999999999\n"), "training.epochs", "integer");
    assertContains(error("training:\n  epochs: {a: 1}\n"), "training.epochs", "a mapping");
    assertContains(error("training:\n  epochs:\n"), "training.epochs", "got nothing");
    assertContains(error("training: [1, 2]\n"), "training", "expected a mapping");
    assertContains(error("- 1\n- 2\n"), "top level must be a mapping");
  }

  @Test
  void recordValidationIsReportedWithItsKeyAndLine() {
    String m = error("optimizer:\n  type: sgd\n  learningRate: -0.1\n");
    assertContains(m, "config.yaml line 3", "optimizer: learningRate must be > 0, got -0.1");
    assertContains(
        error("model:\n  layers:\n    - {type: dense, units: 0, activation: relu}\n"),
        "model.layers[0]",
        "units must be > 0, got 0");
    assertContains(
        error("model:\n  layers:\n    - {type: dense, units: 5, activation: relu}\n"),
        "the last layer must be output");
  }

  @Test
  void duplicateAndMalformedYamlAreRefused() {
    assertContains(error("training:\n  epochs: 1\n  epochs: 2\n"), "duplicate", "training.epochs");
    assertContains(error("training: {epochs: 1\n"), "config.yaml line", "malformed YAML");
  }

  @Test
  void badOverridesNameTheOverride() {
    assertContains(
        error("", "optimizer.lr=0.1"),
        "--set optimizer.lr=0.1",
        "unknown key 'optimizer.lr'",
        "learningRate");
    assertContains(error("", "optimizer.learningRate"), "expected key=value");
    assertContains(error("", "model.layers[7].units=3"), "index 7 out of range", "3 elements");
    assertContains(
        error("", "training.epochs=many"), "--set training.epochs=many", "expected an integer");
  }

  @Test
  void missingFileIsNamed(@TempDir Path tmp) {
    Path missing = tmp.resolve("nope.yaml");
    String m =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(missing, List.of()))
            .getMessage();
    assertContains(m, missing.toString(), "does not exist");
  }

  @Test
  void loadsFromAFile(@TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("c.yaml");
    Files.writeString(file, "training:\n  epochs: 4\n");
    assertEquals(4, ConfigLoader.load(file, List.of()).training().epochs());
    String m = error("training:\n  epochs: 0\n");
    assertContains(m, "epochs must be > 0, got 0");
  }
}
