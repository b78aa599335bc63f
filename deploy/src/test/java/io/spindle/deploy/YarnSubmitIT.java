package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.testing.TestDatasets;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.fs.FileSystem;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Spindle on YARN, for real: Hadoop's YARN and HDFS mini clusters in this JVM ({@link
 * YarnCluster}), a Spark installation made of the project's Spark jars plus {@code spark-yarn}
 * ({@link SparkDistribution}), and the application jar submitted by {@code
 * deploy/yarn/spindle-yarn.sh}, the README's YARN recipe, unchanged. MNIST is read from {@code
 * hdfs://}, and the run's outputs go to {@code hdfs://}.
 *
 * <ol>
 *   <li>cluster mode (the driver in the ApplicationMaster's container): exit code 0 reaches
 *       spark-submit, and {@code summary.json} with the model, metrics, report and config lands on
 *       HDFS;
 *   <li>client mode with the default engine ({@code gradient_sharing}, one Spark job per step): the
 *       time from submit to the first step;
 *   <li>failures reach the submitter: Spindle's exit code itself in client mode, a failed
 *       application naming it in cluster mode;
 *   <li>an executor container killed (SIGKILL) mid-run in cluster mode: YARN starts a replacement,
 *       the run finishes with the exact step count, every step recorded once, test accuracy within
 *       0.5 points of the undisturbed run (case 1), and in fact the same parameters bit for bit.
 * </ol>
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class YarnSubmitIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path RECIPE = deployDir().resolve("yarn").resolve("spindle-yarn.sh");
  private static final Path CONFIG =
      deployDir().resolve("examples").resolve("mnist-hdfs-yarn.yaml");

  /** Global steps of the config's epoch (235 steps of 256 examples). */
  private static final long STEPS = 235;

  @TempDir static Path tmp;
  private static AppJar app;
  private static YarnCluster cluster;
  private static SparkDistribution spark;

  /** Case 1's run, the undisturbed reference of case 4. */
  private static Run undisturbed;

  @BeforeAll
  static void startYarn() throws Exception {
    app = AppJar.fromBuild();
    cluster = YarnCluster.start(tmp.resolve("cluster"), 10240, 8);
    FileSystem fs = cluster.fs();
    Path mnist = TestDatasets.mirror().resolve("mnist");
    for (String name :
        List.of(
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz")) {
      fs.copyFromLocalFile(
          new org.apache.hadoop.fs.Path(mnist.resolve(name).toUri()),
          new org.apache.hadoop.fs.Path("/data/mnist/" + name));
    }
    List<String> jars = new ArrayList<>(app.sparkClasspath());
    jars.addAll(AppJar.testJars("spark-yarn_"));
    String javaHome = System.getProperty("java.home");
    spark =
        SparkDistribution.create(
            tmp.resolve("spark-home"),
            jars,
            Map.of(
                // this test's cluster: everything on 127.0.0.1, no UI, Java where this JVM's is
                "spark.ui.enabled", "false",
                "spark.yarn.appMasterEnv.SPARK_LOCAL_IP", "127.0.0.1",
                "spark.executorEnv.SPARK_LOCAL_IP", "127.0.0.1",
                "spark.yarn.appMasterEnv.JAVA_HOME", javaHome,
                "spark.executorEnv.JAVA_HOME", javaHome));
  }

  @AfterAll
  static void stopYarn() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static Path deployDir() {
    return Path.of(System.getProperty("spindle.deploy.dir", "."));
  }

  /** The recipe with this cluster's environment; {@code args} go to spindle train. */
  private static Submit recipe(String mode, String... args) {
    return Submit.recipe(app, RECIPE)
        .deployMode(mode)
        .env("SPARK_HOME", spark.home().toString())
        .env("HADOOP_CONF_DIR", cluster.confDir().toString())
        .env("JAVA_HOME", System.getProperty("java.home"))
        .env("SPINDLE_CONFIG", CONFIG.toString())
        .args(args);
  }

  @Test
  @Order(1)
  void clusterModeTrainsMnistFromHdfsAndWritesTheRunToHdfs() throws Exception {
    undisturbed = run("cluster-clean", -1);
    assertEquals(0, undisturbed.code, "spark-submit exit code; log:\n" + undisturbed.tail());
    assertTrue(undisturbed.log.contains("final status: SUCCEEDED"), undisturbed.tail());
    FileSystem fs = cluster.fs();
    for (String name :
        List.of(
            "summary.json",
            "model.zip",
            "metrics.jsonl",
            "report.html",
            "config.yaml",
            "spindle.log")) {
      assertTrue(
          fs.exists(new org.apache.hadoop.fs.Path(undisturbed.output, name)),
          name + " is not on HDFS in " + undisturbed.output);
    }
    JsonNode summary = undisturbed.summary;
    assertEquals(STEPS, summary.get("steps").asLong());
    assertEquals("yarn", summary.get("spark_master").asText());
    assertEquals(2, summary.get("workers").asInt());
    assertTrue(
        summary.get("test_accuracy").asDouble() >= 0.95,
        "test accuracy after one epoch " + summary.get("test_accuracy"));
    System.out.printf(
        Locale.ROOT,
        "[yarn] cluster mode: submit to first progress line (global step %d) %.1f s, %d steps in"
            + " %.1f s of training, submit to exit %.1f s, test accuracy %.4f%n",
        undisturbed.firstGlobalStep,
        undisturbed.firstProgressSeconds,
        STEPS,
        summary.get("wall_seconds").asDouble(),
        undisturbed.seconds,
        summary.get("test_accuracy").asDouble());
  }

  @Test
  @Order(2)
  void clientModeRunsTheDefaultEngineAndReportsTheFirstStep() throws Exception {
    String out = cluster.hdfsUri() + "/runs/client";
    Path log = tmp.resolve("client.log");
    Submit submit =
        recipe(
                "client",
                "--output",
                out,
                "--set",
                "cluster.sync=gradient_sharing",
                "--set",
                "training.maxSteps=10",
                "--set",
                "training.logEvery=1")
            .start(log);
    long firstStep;
    int code;
    try {
      firstStep = submit.awaitLine(l -> l.contains("(global 1)"), 300);
      code = submit.waitFor(600);
    } finally {
      submit.destroy();
    }
    String text = Files.readString(log);
    assertEquals(0, code, "exit code; log:\n" + tail(text) + cluster.logs());
    assertTrue(firstStep > 0, "no first step line; log:\n" + tail(text));
    JsonNode summary = readJson(out + "/summary.json");
    assertEquals(10, summary.get("steps").asLong());
    assertEquals("gradient_sharing", summary.get("sync").asText());
    System.out.printf(
        Locale.ROOT,
        "[yarn] client mode, gradient_sharing: submit to first step %.1f s; 10 steps, submit to"
            + " exit %.1f s%n",
        firstStep / 1e9,
        submit.elapsedSeconds());
  }

  @Test
  @Order(3)
  void failuresReachTheSubmitter() throws Exception {
    // client mode: the driver is the submit process, so Spindle's exit code is spark-submit's
    Path badConfig = tmp.resolve("bad-config.log");
    Submit bad =
        recipe("client", "--output", cluster.hdfsUri() + "/runs/bad", "--set", "training.epochs=0")
            .start(badConfig);
    int code = bad.waitFor(120);
    String text = Files.readString(badConfig);
    assertEquals(2, code, "exit code of a bad config in client mode; log:\n" + tail(text));
    assertTrue(text.contains("training.epochs") || text.contains("epochs"), tail(text));

    // cluster mode: the application fails and YARN's diagnostics name Spindle's exit code
    Path badData = tmp.resolve("bad-data.log");
    Submit missing =
        recipe(
                "cluster",
                "--output",
                "hdfs:///runs/bad-data",
                "--set",
                "data.path=hdfs:///data/no-such-folder")
            .start(badData);
    code = missing.waitFor(300);
    text = Files.readString(badData);
    assertNotEquals(0, code, "a failed application must fail spark-submit; log:\n" + tail(text));
    assertTrue(text.contains("final status: FAILED"), tail(text));
    assertTrue(
        text.contains("spindle exit code 3 (bad data)"),
        "YARN's diagnostics should name Spindle's exit code; log:\n" + tail(text));
    assertFalse(
        cluster.fs().exists(new org.apache.hadoop.fs.Path("/runs/bad-data/summary.json")),
        "a failed run wrote summary.json");
    // the failure's details are in the run's log, published to HDFS although the run failed
    String runLog = text(cluster.hdfsUri() + "/runs/bad-data/spindle.log");
    assertTrue(runLog.contains("no-such-folder"), "spindle.log on HDFS:\n" + tail(runLog));
  }

  @Test
  @Order(4)
  void killedExecutorContainerIsReplacedAndTheRunFinishesExactly() throws Exception {
    assertNotNull(undisturbed, "needs the undisturbed run of case 1");
    Run killed = run("cluster-killed", 80);
    assertEquals(0, killed.code, "spark-submit exit code; log:\n" + killed.tail());
    assertTrue(killed.killedPid > 0, "no executor was killed");
    // Spark's log records the loss: the run's spindle.log (published to HDFS with the outputs)
    String driverLog = text(killed.output + "/spindle.log");
    assertTrue(
        driverLog.contains("Lost executor") || driverLog.contains("lost executor"),
        "the driver did not see the executor die:\n" + tail(driverLog));
    for (Run r : List.of(undisturbed, killed)) {
      assertEquals(STEPS, r.summary.get("steps").asLong(), r.name + " steps");
      List<Long> steps = r.stepRecords;
      assertEquals(STEPS, steps.get(steps.size() - 1), r.name);
      for (int i = 1; i < steps.size(); i++) {
        assertTrue(
            steps.get(i) > steps.get(i - 1),
            r.name + ": global steps not strictly increasing in metrics.jsonl: " + steps);
      }
    }
    double a = undisturbed.summary.get("test_accuracy").asDouble();
    double b = killed.summary.get("test_accuracy").asDouble();
    System.out.printf(
        Locale.ROOT,
        "[yarn] executor container killed after global step %d: %d steps, test accuracy %.4f"
            + " (undisturbed %.4f), submit to exit %.1f s (undisturbed %.1f s)%n",
        killed.killedAtStep,
        killed.summary.get("steps").asLong(),
        b,
        a,
        killed.seconds,
        undisturbed.seconds);
    assertTrue(
        Math.abs(a - b) <= 0.005,
        "test accuracy " + b + " after the container loss, " + a + " undisturbed (> 0.5 pt)");
    assertArrayEquals(
        params(undisturbed.output),
        params(killed.output),
        "final parameters differ from the undisturbed run's after the container loss");
  }

  private record Run(
      String name,
      String output,
      int code,
      String log,
      Path driverLog,
      JsonNode summary,
      List<Long> stepRecords,
      double seconds,
      double firstProgressSeconds,
      long firstGlobalStep,
      long killedPid,
      long killedAtStep) {
    String tail() {
      return YarnSubmitIT.tail(log) + cluster.logs();
    }
  }

  /**
   * Submits the config in cluster mode to {@code hdfs:///runs/NAME}; if {@code killAfter >= 0},
   * kills one executor container once the driver reported that global step.
   */
  private static Run run(String name, long killAfter) throws Exception {
    String output = cluster.hdfsUri() + "/runs/" + name;
    Path log = tmp.resolve(name + ".log");
    Submit submit = recipe("cluster", "--output", output).start(log);
    long start = System.nanoTime();
    double firstProgress = -1;
    long firstGlobal = -1;
    long killedPid = -1;
    long killedAt = -1;
    Path driverLog = null;
    int code;
    try {
      // cluster mode: the progress lines are in the ApplicationMaster container's stdout
      submit.follow();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(900);
      while (submit.handle().isAlive() && System.nanoTime() < deadline) {
        if (driverLog == null) {
          driverLog = cluster.driverStdout("/runs/" + name);
        }
        long step = driverLog == null ? -1 : lastGlobalStep(Files.readString(driverLog));
        if (step >= 0 && firstProgress < 0) {
          firstProgress = (System.nanoTime() - start) / 1e9;
          firstGlobal = step;
        }
        if (killAfter >= 0 && killedPid < 0 && step >= killAfter) {
          // into the next round, then kill the executor that holds rank 0's work
          TimeUnit.MILLISECONDS.sleep(700);
          List<Long> pids = cluster.executorPids();
          assertFalse(pids.isEmpty(), "no executor containers to kill");
          killedPid = pids.get(0);
          killedAt = step;
          ProcessHandle.of(killedPid).ifPresent(ProcessHandle::destroyForcibly);
        }
        TimeUnit.MILLISECONDS.sleep(200);
      }
      code = submit.waitFor(60);
    } finally {
      submit.destroy();
    }
    String text = Files.readString(log);
    if (driverLog == null) {
      driverLog = cluster.driverStdout("/runs/" + name);
    }
    Path keep = Path.of("target", "yarn-it");
    Files.createDirectories(keep);
    Files.writeString(keep.resolve(name + ".submit.log"), text);
    if (driverLog != null) {
      for (String stream : List.of("stdout", "stderr")) {
        Files.copy(
            driverLog.resolveSibling(stream),
            keep.resolve(name + ".driver." + stream),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    assertEquals(0, code, "spark-submit exit code; log:\n" + tail(text) + cluster.logs());
    assertNotNull(driverLog, "no driver container log for " + name + cluster.logs());
    if (killAfter >= 0) {
      assertTrue(killedPid > 0, "training never reached global step " + killAfter);
    }
    return new Run(
        name,
        output,
        code,
        text,
        driverLog,
        readJson(output + "/summary.json"),
        stepRecords(output + "/metrics.jsonl"),
        submit.elapsedSeconds(),
        firstProgress,
        firstGlobal,
        killedPid,
        killedAt);
  }

  private static JsonNode readJson(String uri) throws IOException {
    try (InputStream in = cluster.fs().open(new org.apache.hadoop.fs.Path(uri))) {
      return JSON.readTree(in);
    }
  }

  private static String text(String uri) throws IOException {
    try (InputStream in = cluster.fs().open(new org.apache.hadoop.fs.Path(uri))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static List<Long> stepRecords(String uri) throws IOException {
    List<Long> steps = new ArrayList<>();
    for (String line : text(uri).split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode rec = JSON.readTree(line);
      if ("step".equals(rec.path("type").asText())) {
        steps.add(rec.get("global_step").asLong());
      }
    }
    return steps;
  }

  private static float[] params(String output) throws IOException {
    Path local = tmp.resolve("model-" + Math.abs(output.hashCode()) + ".zip");
    cluster
        .fs()
        .copyToLocalFile(
            new org.apache.hadoop.fs.Path(output + "/model.zip"),
            new org.apache.hadoop.fs.Path(local.toUri()));
    MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(local.toFile(), false);
    return net.params().castTo(DataType.FLOAT).toFloatVector();
  }

  /** The largest global step of the progress lines ("... (global N) ..."), or -1. */
  private static long lastGlobalStep(String log) {
    long max = -1;
    for (String line : log.split("\n")) {
      int i = line.indexOf("(global ");
      if (i >= 0) {
        int end = line.indexOf(')', i);
        max = Math.max(max, Long.parseLong(line.substring(i + "(global ".length(), end)));
      }
    }
    return max;
  }

  static String tail(String log) {
    List<String> lines = log.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }
}
