package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line: help, and the exit codes and messages of bad input. */
class SpindleCliTest {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return SpindleCli.run(
        args,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void helpOnEveryCommand() {
    assertEquals(0, run("--help"));
    assertTrue(out.toString(StandardCharsets.UTF_8).contains("train"));
    out.reset();
    assertEquals(0, run("train", "--help"));
    String help = out.toString(StandardCharsets.UTF_8);
    assertTrue(help.contains("--config") && help.contains("--set") && help.contains("--output"));
  }

  @Test
  void unknownCommandIsAUsageError() {
    assertEquals(ExitCode.BAD_CONFIG.code(), run("fly"));
    assertTrue(err().contains("unknown command 'fly'"), err());
  }

  @Test
  void unknownConfigKeyNamesTheKeyAndLine(@TempDir Path tmp) throws Exception {
    Path config = tmp.resolve("bad.yaml");
    Files.writeString(config, "training:\n  epochs: 1\n  learningrate: 0.1\n");
    assertEquals(
        ExitCode.BAD_CONFIG.code(),
        run("train", "--config", config.toString(), "--output", tmp.resolve("o").toString()));
    assertTrue(err().contains("training.learningrate"), err());
    assertTrue(err().contains("line 3"), err());
    assertFalse(Files.exists(tmp.resolve("o").resolve("summary.json")));
  }

  @Test
  void badValueFromSetNamesTheKeyAndExpectation(@TempDir Path tmp) {
    assertEquals(
        ExitCode.BAD_CONFIG.code(),
        run("train", "--set", "optimizer.learningRate=-0.1", "--output", tmp.toString()));
    assertTrue(err().contains("learningRate must be > 0, got -0.1"), err());
  }

  @Test
  void corruptDataFileIsABadDataExitWithTheFileNamed(@TempDir Path tmp) throws Exception {
    Path mirror = tmp.resolve("mirror");
    Files.createDirectories(mirror.resolve("mnist"));
    try (var files = Files.list(TestDatasets.mirror().resolve("mnist"))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.copy(f, mirror.resolve("mnist").resolve(f.getFileName()));
      }
    }
    Path labels = mirror.resolve("mnist/train-labels-idx1-ubyte.gz");
    byte[] bytes = Files.readAllBytes(labels);
    Files.write(labels, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    int code =
        run(
            "train",
            "--set",
            "data.mirror=" + mirror,
            "--set",
            "data.cacheDir=" + tmp.resolve("cache"),
            "--set",
            "training.epochs=1",
            "--output",
            tmp.resolve("out").toString());
    assertEquals(ExitCode.BAD_DATA.code(), code, err());
    assertTrue(err().contains("train-labels-idx1-ubyte"), err());
    assertFalse(Files.exists(tmp.resolve("out").resolve("summary.json")));
    assertFalse(
        Files.exists(tmp.resolve("cache/mnist/train-labels-idx1-ubyte.gz")),
        "a file that failed verification must not be cached");
  }
}
