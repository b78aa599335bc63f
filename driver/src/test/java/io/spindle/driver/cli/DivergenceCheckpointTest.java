package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import io.spindle.driver.SparkLocal;
import io.spindle.driver.TrainingDivergedException;
import io.spindle.driver.checkpoint.Checkpoint;
import io.spindle.driver.checkpoint.CheckpointStore;
import io.spindle.driver.job.TrainJob;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A diverging run (linear regression with a learning rate far above 2 / the largest curvature, so
 * the error grows by orders of magnitude every step until it overflows) stops with {@link
 * TrainingDivergedException}, exit code 4, and keeps its last good checkpoint: the guard runs
 * before a diverged state can be saved.
 */
class DivergenceCheckpointTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2]");

  @Test
  void divergedRunStopsWithExitCode4AndKeepsTheLastGoodCheckpoint(@TempDir Path tmp) {
    SpindleConfig config =
        ConfigLoader.load(
            null,
            List.of(
                "data.mirror=" + TestDatasets.mirror(),
                "data.cacheDir=" + tmp.resolve("cache"),
                "data.trainLimit=2000",
                "model.layers=[{type: output, units: 10, activation: identity, loss: mse}]",
                "optimizer.type=sgd",
                "optimizer.learningRate=10",
                "training.epochs=1",
                "training.batchSize=50",
                // one step per round, so the guard and the checkpoints see every step
                "cluster.sync=gradient_sharing",
                "checkpoint.everySteps=1",
                "checkpoint.keepLast=2"));
    Path out = tmp.resolve("run");
    TrainingDivergedException e =
        assertThrows(
            TrainingDivergedException.class,
            () ->
                TrainJob.run(
                    SPARK.sc(),
                    config,
                    new RunOutput(out),
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
    assertEquals(ExitCode.DIVERGED, SpindleCli.classify(e));
    Matcher m = Pattern.compile("at global step (\\d+)").matcher(e.getMessage());
    assertTrue(m.find(), e.getMessage());
    long diverged = Long.parseLong(m.group(1));
    assertTrue(diverged > 2 && diverged < 40, "diverged at step " + diverged);

    CheckpointStore store =
        CheckpointStore.open(out.resolve("checkpoints").toUri().toString(), new Configuration());
    assertEquals(List.of(diverged - 1, diverged - 2), store.steps());
    Checkpoint good = store.read(store.pathOf(diverged - 1));
    for (float w : good.params().toFloatVector()) {
      assertTrue(Float.isFinite(w), "the kept checkpoint holds a non-finite parameter");
    }
    assertFalse(Files.exists(out.resolve("summary.json")));
  }
}
