package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The one option parser: {@code --output} as given (a Hadoop URI for the commands that write
 * through Hadoop, refused by those that write local files), shared options a command does not take
 * refused, required options named. The scoring commands' refusals come before Spark starts.
 */
class CommandOptionsTest {
  private static final List<String> SCORING = List.of("--set", "--output");

  private static CommandOptions predict(String... args) {
    return CommandOptions.parse("predict", args, SCORING, List.of("--model"), List.of());
  }

  @Test
  void outputIsKeptAsGivenForHadoopUris() {
    CommandOptions o = predict("--output", "s3a://bucket/scores", "--model=m.zip");
    assertEquals("s3a://bucket/scores", o.requiredOutput());
    assertEquals("s3a://bucket/scores", o.outputLocation("x"));
    assertEquals("m.zip", o.required("--model"));
    CommandOptions train =
        CommandOptions.parse("train", new String[] {"--output=hdfs:///r/1"}, List.of());
    assertEquals("hdfs:///r/1", train.outputLocation("train"));
    assertTrue(train.hasOutput());
    assertTrue(
        CommandOptions.parse("train", new String[0], List.of())
            .outputLocation("train")
            .startsWith(Path.of("runs", "train-").toString()));
  }

  @Test
  void localOnlyCommandsRefuseAUriAndAcceptFileUris() {
    CommandOptions bench =
        CommandOptions.parse("bench", new String[] {"--output", "hdfs://nn/b"}, List.of());
    ConfigException e = assertThrows(ConfigException.class, () -> bench.outputDir("bench"));
    assertEquals(
        "--output hdfs://nn/b: bench writes to a local directory only; expected a local path",
        e.getMessage());
    assertEquals(
        Path.of("/tmp/b"),
        CommandOptions.parse("bench", new String[] {"--output", "file:///tmp/b"}, List.of())
            .outputDir("bench"));
    assertEquals(
        Path.of("runs/b[1]"),
        CommandOptions.parse("bench", new String[] {"--output", "runs/b[1]"}, List.of())
            .outputDir(Path.of("fallback")));
  }

  @Test
  void aSharedOptionTheCommandDoesNotTakeIsRefusedAndRequiredOnesAreNamed() {
    ConfigException e = assertThrows(ConfigException.class, () -> predict("--config", "c.yaml"));
    assertEquals(
        "unknown option '--config' for predict; expected one of [--set, --output, --model, --help]",
        e.getMessage());
    assertEquals(
        "predict needs --output",
        assertThrows(ConfigException.class, () -> predict("--model", "m").requiredOutput())
            .getMessage());
    assertEquals(
        "predict needs --model",
        assertThrows(ConfigException.class, () -> predict("--output", "o").required("--model"))
            .getMessage());
    assertEquals(List.of("a=1", "b=2"), predict("--set", "a=1", "--set=b=2").overrides());
    assertFalse(predict().hasOutput());
  }

  @Test
  void scoringCommandsRefuseBadOptionsWithExitTwoBeforeSparkStarts() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
    PrintStream out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    assertEquals(
        ExitCode.BAD_CONFIG.code(),
        SpindleCli.run(new String[] {"predict", "--config", "c.yaml"}, out, e));
    assertEquals(
        ExitCode.BAD_CONFIG.code(),
        SpindleCli.run(
            new String[] {"evaluate", "--model", "missing.zip", "--output", "hdfs://nn/eval"},
            out,
            e));
    String text = err.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("unknown option '--config' for predict"), text);
    assertTrue(
        text.contains("--output hdfs://nn/eval: evaluate writes to a local directory only"), text);
  }
}
