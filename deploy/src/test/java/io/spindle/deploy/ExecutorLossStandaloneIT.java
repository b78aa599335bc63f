package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.cluster.StandaloneCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Executor loss on a real Spark standalone cluster (a Master and two Workers on 127.0.0.1, started
 * from the project's own jars, with {@code spark.authenticate} and {@code
 * spark.network.crypto.enabled} on for daemons and application alike): the application jar is
 * submitted twice with the same seed, once undisturbed and once with one executor JVM killed by its
 * process id (SIGKILL) mid-training. The disturbed job must finish with exit code 0, the exact
 * number of global steps, every step recorded once in order, and a test accuracy within 0.5
 * percentage points of the undisturbed run's; in fact its final parameters must be bit-identical to
 * the undisturbed run's, since every strategy reruns lost work from the last committed state.
 *
 * <p>Each sync strategy is exercised: the collective engine (killed mid-round; the barrier stage is
 * relaunched once the master has started a replacement executor), gradient sharing (killed
 * mid-step; the step's tasks rerun) and parameter averaging (killed mid-round of K local steps).
 */
class ExecutorLossStandaloneIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SECRET = newSecret();
  private static AppJar app;
  private static StandaloneCluster cluster;

  @BeforeAll
  static void startCluster() {
    app = AppJar.fromBuild();
    cluster =
        StandaloneCluster.builder()
            .classpath(app.sparkClasspath())
            .workers(2)
            .coresPerWorker(1)
            .memoryPerWorker("2g")
            .conf("spark.authenticate", "true")
            .conf("spark.authenticate.secret", SECRET)
            .conf("spark.network.crypto.enabled", "true")
            .start();
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /**
   * @param sync the sync strategy
   * @param limit the run's length: {@code training.epochs=N} or {@code training.maxSteps=N}
   * @param expectedSteps global steps of the whole run
   * @param killAfter kill an executor once this global step has been reported
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "collective,          training.epochs=2,    470, 120",
    "gradient_sharing,    training.maxSteps=50,  50,  20",
    "parameter_averaging, training.maxSteps=80,  80,  32"
  })
  void jobSurvivesTheLossOfAnExecutor(
      String sync, String limit, long expectedSteps, long killAfter, @TempDir Path tmp)
      throws Exception {
    List<String> args =
        List.of(
            "--set", limit,
            "--set", "training.logEvery=1",
            "--set", "training.seed=7",
            "--set", "cluster.sync=" + sync,
            "--set", "cluster.roundSteps=40",
            "--set", "cluster.averagingSteps=4");
    Run clean = submit(tmp.resolve(sync + "-clean"), args, -1);
    Run killed = submit(tmp.resolve(sync + "-killed"), args, killAfter);

    assertTrue(killed.killedPid > 0, "no executor was killed; log:\n" + tail(killed.log));
    assertTrue(
        killed.log.contains("Lost executor") || killed.log.contains("lost executor"),
        "the driver did not see an executor die; log:\n" + tail(killed.log));
    for (Run r : List.of(clean, killed)) {
      assertEquals(expectedSteps, r.summary.get("steps").asLong(), r.name + " steps");
      assertEquals(expectedSteps, r.stepRecords.get(r.stepRecords.size() - 1), r.name);
      for (int i = 1; i < r.stepRecords.size(); i++) {
        assertTrue(
            r.stepRecords.get(i) > r.stepRecords.get(i - 1),
            r.name + ": global steps not strictly increasing in metrics.jsonl: " + r.stepRecords);
      }
    }
    double a = clean.summary.get("test_accuracy").asDouble();
    double b = killed.summary.get("test_accuracy").asDouble();
    System.out.printf(
        Locale.ROOT,
        "[executor-loss] %s: %d steps; undisturbed %.4f in %.1f s; executor %d killed after global"
            + " step %d: %.4f in %.1f s (%.1f s lost)%n",
        sync,
        expectedSteps,
        a,
        clean.seconds,
        killed.killedPid,
        killed.killedAtStep,
        b,
        killed.seconds,
        killed.seconds - clean.seconds);
    assertTrue(
        Math.abs(a - b) <= 0.005,
        "test accuracy " + b + " after the executor loss, " + a + " undisturbed (> 0.5 pt apart)");
    // Stronger than the accuracy bound: the rerun work reproduced the same trajectory exactly.
    assertArrayEquals(
        params(clean.output),
        params(killed.output),
        "final parameters differ from the undisturbed run's after the executor loss");
  }

  private static float[] params(Path run) throws IOException {
    MultiLayerNetwork net =
        ModelSerializer.restoreMultiLayerNetwork(run.resolve("model.zip").toFile(), false);
    return net.params().castTo(DataType.FLOAT).toFloatVector();
  }

  private record Run(
      String name,
      Path output,
      JsonNode summary,
      List<Long> stepRecords,
      String log,
      double seconds,
      long killedPid,
      long killedAtStep) {}

  /** Submits a training run; if {@code killAfter >= 0}, kills one executor after that step. */
  private static Run submit(Path dir, List<String> settings, long killAfter) throws Exception {
    Files.createDirectories(dir);
    Path out = dir.resolve("run");
    List<String> a = new ArrayList<>(List.of("train", "--output", out.toString()));
    a.addAll(settings);
    Path logFile = dir.resolve("submit.log");
    Submit submit =
        Submit.of(app, cluster.masterUrl())
            .conf("spark.authenticate", "true")
            .conf("spark.authenticate.secret", SECRET)
            .conf("spark.network.crypto.enabled", "true")
            .args(a.toArray(String[]::new))
            .start(logFile);
    long killedPid = -1;
    long killedAt = -1;
    int code;
    try {
      if (killAfter >= 0) {
        long seen = submit.awaitLine(l -> globalStep(l) >= killAfter, 600);
        assertTrue(seen >= 0, "training never reached global step " + killAfter);
        killedAt = lastGlobalStep(Files.readString(logFile));
        // Into the next step or round, then kill the executor that holds rank 0's work.
        TimeUnit.MILLISECONDS.sleep(700);
        List<Long> pids = cluster.executorPids();
        assertFalse(pids.isEmpty(), "no executor JVMs to kill" + cluster.logs());
        killedPid = pids.get(0);
        cluster.kill(killedPid);
      }
      code = submit.waitFor(900);
    } finally {
      submit.destroy();
    }
    String log = Files.readString(logFile);
    // Spark's own log lines (an executor lost, a task failed) go to the run's log file, not the
    // console
    Path runLog = out.resolve("spindle.log");
    if (Files.exists(runLog)) {
      log = log + "\n" + Files.readString(runLog);
    }
    // Kept for diagnosis after the temporary folder is gone.
    Path keep = Path.of("target", "executor-loss");
    Files.createDirectories(keep);
    Files.writeString(keep.resolve(dir.getFileName() + ".log"), log);
    assertEquals(0, code, "spark-submit exit code; log:\n" + tail(log) + cluster.logs());
    JsonNode summary = JSON.readTree(out.resolve("summary.json").toFile());
    return new Run(
        dir.getFileName().toString(),
        out,
        summary,
        stepRecords(out.resolve("metrics.jsonl")),
        log,
        submit.elapsedSeconds(),
        killedPid,
        killedAt);
  }

  /** The global step of a console progress line ("... (global N) ..."), or -1. */
  private static long globalStep(String line) {
    int i = line.indexOf("(global ");
    if (i < 0) {
      return -1;
    }
    int end = line.indexOf(')', i);
    return Long.parseLong(line.substring(i + "(global ".length(), end));
  }

  private static long lastGlobalStep(String log) {
    return log.lines().mapToLong(ExecutorLossStandaloneIT::globalStep).max().orElse(-1);
  }

  private static List<Long> stepRecords(Path metrics) throws IOException {
    List<Long> steps = new ArrayList<>();
    for (String line : Files.readAllLines(metrics)) {
      JsonNode rec = JSON.readTree(line);
      if ("step".equals(rec.path("type").asText())) {
        steps.add(rec.get("global_step").asLong());
      }
    }
    return steps;
  }

  private static String newSecret() {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private static String tail(String log) {
    List<String> lines = log.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()));
  }
}
