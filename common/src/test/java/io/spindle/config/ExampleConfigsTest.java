package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every example config in deploy/examples loads through ConfigLoader and writes back equal. */
class ExampleConfigsTest {
  static final Path EXAMPLES = Path.of("..", "deploy", "examples");

  static Stream<Path> examples() throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(EXAMPLES)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertTrue(files.size() >= 2, "expected example configs in " + EXAMPLES.toAbsolutePath());
    return files.stream();
  }

  @ParameterizedTest
  @MethodSource("examples")
  void loadsAndRoundTrips(Path file) {
    SpindleConfig c = ConfigLoader.load(file, List.of());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "written " + file, List.of()));
  }
}
