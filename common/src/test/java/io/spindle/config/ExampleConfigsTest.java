package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.data.GeneratedSequences;
import io.spindle.model.GraphFactory;
import io.spindle.model.ModelFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every {@code deploy/examples/*.yaml} loads through {@link ConfigLoader}, writes back equal, and
 * builds its network for its data set's feature count, so the examples cannot rot.
 */
class ExampleConfigsTest {
  static final Path EXAMPLES = Path.of("..", "deploy", "examples");

  @Test
  void everyExampleLoadsAndBuildsItsNetwork() throws IOException {
    List<Path> yamls;
    try (Stream<Path> s = Files.list(EXAMPLES)) {
      yamls = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertTrue(
        yamls.size() >= 4, "expected the example configs in " + EXAMPLES + ", found " + yamls);
    for (Path yaml : yamls) {
      SpindleConfig c = ConfigLoader.load(yaml, List.of());
      int features =
          c.data().effectiveFormat().equals("image_folder")
              ? 3 * c.data().imageSize() * c.data().imageSize()
              : switch (c.data().dataset()) {
                case "mnist", "fashion-mnist" -> 784;
                case "cifar10", "cifar100" -> 3072;
                case GeneratedSequences.NAME -> GeneratedSequences.STEPS;
                default ->
                    throw new AssertionError(yaml + ": no feature count for " + c.data().dataset());
              };
      org.nd4j.linalg.api.ndarray.INDArray x = org.nd4j.linalg.factory.Nd4j.zeros(2, features);
      if (c.model().isGraph()) {
        ComputationGraph net = GraphFactory.create(c.model(), features, c.training().seed());
        assertTrue(net.numParams() > 0, yaml.toString());
        assertEquals(
            c.model().outputLayer().units(), net.outputSingle(x).size(1), yaml + ": output width");
        continue;
      }
      MultiLayerNetwork net = ModelFactory.create(c.model(), features, c.training().seed());
      assertTrue(net.numParams() > 0, yaml.toString());
      assertEquals(c.model().outputLayer().units(), net.output(x).size(1), yaml + ": output width");
    }
  }

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> s = Files.list(EXAMPLES)) {
      return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
    }
  }

  @ParameterizedTest
  @MethodSource("examples")
  void loadsAndRoundTrips(Path file) {
    SpindleConfig c = ConfigLoader.load(file, List.of());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "written " + file, List.of()));
  }
}
