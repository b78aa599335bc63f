package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.OptimizerType;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.checkpoint.CheckpointSnapshot;
import io.spindle.driver.checkpoint.CheckpointStore;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code spindle inspect} on a good and a damaged checkpoint, and {@code --resume}'s usage. */
class InspectCommandTest {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return SpindleCli.run(
        args,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private static Path checkpoint(Path root) {
    CheckpointStore store = CheckpointStore.open(root.toUri().toString(), new Configuration());
    double[] params = {0.5, -1.25, 3.0};
    store.write(
        new CheckpointSnapshot(
            30,
            1,
            5,
            25,
            false,
            3000,
            42,
            100,
            2,
            "parameter_averaging",
            OptimizerType.MOMENTUM,
            params,
            new double[] {0.1, 0.2, 0.3},
            false,
            ConfigLoader.toYaml(SpindleConfig.defaults()).getBytes(StandardCharsets.UTF_8)));
    return root.resolve("step-000000000030");
  }

  @Test
  void printsWhatAValidCheckpointHolds(@TempDir Path tmp) {
    Path cp = checkpoint(tmp);
    assertEquals(0, run("inspect", cp.toString()), err.toString(StandardCharsets.UTF_8));
    String text = out.toString(StandardCharsets.UTF_8);
    for (String expected :
        new String[] {
          "valid",
          "global step 30, epoch 2, 5 of 25 steps",
          "permutationSeed",
          "nextPosition: 500",
          "type: momentum",
          "stateLayout: [v]",
          "parameters: 3 x float32",
          "gitRevision",
          "spark: 3.5.9",
          "learningRate"
        }) {
      assertTrue(text.contains(expected), "missing '" + expected + "' in\n" + text);
    }
  }

  @Test
  void damagedCheckpointIsExitCode3NamingTheFile(@TempDir Path tmp) throws Exception {
    Path cp = checkpoint(tmp);
    Path params = cp.resolve("params.bin");
    byte[] b = Files.readAllBytes(params);
    b[2] ^= 0x40;
    Files.write(params, b);
    assertEquals(ExitCode.BAD_DATA.code(), run("inspect", cp.toString()));
    String e = err.toString(StandardCharsets.UTF_8);
    assertTrue(e.contains(params.getFileName().toString()) && e.contains("SHA-256"), e);
  }

  @Test
  void listsTheCheckpointsOfARunDirectory(@TempDir Path tmp) throws Exception {
    Path cp = checkpoint(tmp);
    Files.delete(cp.resolve("config.yaml"));
    assertEquals(0, run("inspect", tmp.toString()));
    String text = out.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("step-000000000030  DAMAGED") && text.contains("config.yaml"), text);
  }

  @Test
  void resumeNeedsTheOutputDirectory() {
    assertEquals(ExitCode.BAD_CONFIG.code(), run("train", "--resume"));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("--resume needs --output"));
  }
}
