package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.checkpoint.CheckpointPause;
import io.spindle.driver.checkpoint.CheckpointStore;
import io.spindle.driver.checkpoint.PausingLocalFileSystem;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver process is killed (SIGKILL) while it writes a checkpoint: its data files are written,
 * its manifest is not. The previous checkpoint stays the newest valid one, and {@code spindle train
 * --resume} in a new process continues from it and ends the run with exactly the step count and
 * parameters of an uninterrupted run. The child pauses there because the test installs {@link
 * PausingLocalFileSystem} as its local file system ({@link CheckpointPause}).
 */
class DriverKillTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2]");

  /**
   * A {@code spindle} child JVM with the test's classpath and JVM options, {@code hadoopConf} (a
   * folder with a core-site.xml, or null) first on its classpath.
   */
  private static ProcessBuilder spindle(Path log, Path hadoopConf, List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-opens") || a.startsWith("-Dorg.bytedeco") || a.startsWith("-Djdk")) {
        cmd.add(a);
      }
    }
    cmd.add("-Xmx1500m");
    cmd.add("-Dspark.ui.enabled=false");
    cmd.add("-cp");
    cmd.add(
        (hadoopConf != null ? hadoopConf + java.io.File.pathSeparator : "")
            + System.getProperty("java.class.path"));
    cmd.add("io.spindle.driver.cli.SpindleCli");
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    pb.redirectOutput(log.toFile());
    return pb;
  }

  private static List<String> trainArgs(Path out, List<String> settings) {
    List<String> args = new ArrayList<>(List.of("train", "--output", out.toString()));
    for (String s : settings) {
      args.add("--set");
      args.add(s);
    }
    return args;
  }

  @Test
  void killedWhileWritingACheckpointThenResumedFinishesExactly(@TempDir Path tmp) throws Exception {
    List<String> settings = ExactResumeTest.settings(tmp, "gradient_sharing");
    Path whole = tmp.resolve("whole");
    ExactResumeTest.train(SPARK.sc(), whole, settings);

    Path out = tmp.resolve("killed");
    Path pausing =
        CheckpointPause.hadoopConfDir(
            tmp.resolve("pausing-conf"),
            "file",
            PausingLocalFileSystem.class,
            8,
            CheckpointStore.MANIFEST);
    Process child = spindle(tmp.resolve("child1.out"), pausing, trainArgs(out, settings)).start();
    CountDownLatch paused = new CountDownLatch(1);
    StringBuilder stderr = new StringBuilder();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(child.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                  synchronized (stderr) {
                    stderr.append(line).append('\n');
                  }
                  if (line.startsWith(CheckpointPause.PAUSED)) {
                    paused.countDown();
                  }
                }
              } catch (java.io.IOException e) {
                // the child was killed
              }
            });
    reader.start();
    try {
      boolean reached = paused.await(240, TimeUnit.SECONDS);
      assertTrue(reached, "the child never reached the checkpoint of step 8:\n" + stderr);
    } finally {
      child.destroyForcibly();
      assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the killed child did not exit");
      reader.join(10_000);
    }
    assertEquals(137, child.exitValue(), "killed by SIGKILL");

    CheckpointStore store = ExactResumeTest.store(out);
    assertEquals(List.of(4L), store.steps(), "only the complete checkpoint is visible");
    Path partial;
    try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
      partial =
          s.filter(p -> p.getFileName().toString().startsWith(".tmp-step-000000000008"))
              .findFirst()
              .orElseThrow();
    }
    for (String file :
        List.of(CheckpointStore.PARAMS, CheckpointStore.OPTIMIZER, CheckpointStore.CONFIG)) {
      assertTrue(Files.exists(partial.resolve(file)), "killed after " + file + " was written");
    }
    assertFalse(Files.exists(partial.resolve(CheckpointStore.MANIFEST)), "killed before manifest");
    assertEquals(4, store.read(store.pathOf(4)).globalStep());
    assertFalse(Files.exists(out.resolve("summary.json")));

    List<String> resume = trainArgs(out, settings);
    resume.add("--resume");
    Process second = spindle(tmp.resolve("child2.out"), null, resume).start();
    String err2 = new String(second.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(second.waitFor(240, TimeUnit.SECONDS), "the resumed run did not finish");
    String out2 = Files.readString(tmp.resolve("child2.out"));
    assertEquals(0, second.exitValue(), out2 + err2);
    assertTrue(out2.contains("resuming from") && out2.contains("step-000000000004"), out2);
    assertTrue(out2.contains("removing partial checkpoint"), out2);

    JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    assertEquals(24, summary.get("steps").asInt());
    ExactResumeTest.assertSameState(ExactResumeTest.last(whole), ExactResumeTest.last(out));
    try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".tmp-")));
    }
  }
}
