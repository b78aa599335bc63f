package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.checkpoint.CheckpointPause;
import io.spindle.driver.checkpoint.CheckpointStore;
import io.spindle.driver.cluster.StandaloneCluster;
import io.spindle.testing.TestDatasets;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
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
 * Spindle with its data, checkpoints and outputs in S3, for real: an S3-compatible server on
 * 127.0.0.1 ({@link S3Server}: S3Proxy), a Spark standalone cluster whose classpath is a Spark
 * distribution's plus S3A ({@code hadoop-aws} and the AWS SDK bundle it is built against, as {@code
 * spark-submit --packages org.apache.hadoop:hadoop-aws:3.3.4} brings), and the application jar
 * submitted with the S3A settings as {@code spark.hadoop.fs.s3a.*}. Nothing is mocked: every byte
 * goes through S3A's HTTP client to the server.
 *
 * <ol>
 *   <li>MNIST read from {@code s3a://}, trained with checkpoints every 100 steps into {@code
 *       s3a://.../checkpoints}, outputs ({@code summary.json} last) to {@code s3a://};
 *   <li>the driver killed (SIGKILL) in the middle of writing the step-200 checkpoint, after its
 *       data files were uploaded and before its manifest (the driver's S3A is {@link
 *       PausingS3AFileSystem}, installed by the test): S3 then holds that checkpoint's files and no
 *       manifest; {@code --resume} skips it, removes it, resumes from the previous complete
 *       checkpoint (step 100) and finishes with the exact step count and the undisturbed run's
 *       parameters, bit for bit;
 *   <li>a Parquet table read from {@code s3a://} (a linear regression), trained, outputs to S3.
 * </ol>
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class S3StorageIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String BUCKET = "spindle";

  /** One epoch: 235 global steps of 256 examples. */
  private static final long STEPS = 235;

  @TempDir static Path tmp;
  private static AppJar app;
  private static S3Server s3;
  private static StandaloneCluster cluster;
  private static FileSystem fs;
  private static List<String> classpath;
  private static String clean;

  @BeforeAll
  static void start() throws Exception {
    app = AppJar.fromBuild();
    s3 = S3Server.start(tmp.resolve("s3"), BUCKET);
    Configuration conf = new Configuration();
    s3.s3a().forEach(conf::set);
    fs = FileSystem.newInstance(URI.create("s3a://" + BUCKET + "/"), conf);
    Path mnist = TestDatasets.mirror().resolve("mnist");
    for (String name :
        List.of(
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz")) {
      fs.copyFromLocalFile(
          new org.apache.hadoop.fs.Path(mnist.resolve(name).toUri()),
          new org.apache.hadoop.fs.Path("s3a://" + BUCKET + "/data/mnist/" + name));
    }
    writeLinearTable(conf, "s3a://" + BUCKET + "/data/linear/train/part-0.parquet", 2048, 1);
    writeLinearTable(conf, "s3a://" + BUCKET + "/data/linear/test/part-0.parquet", 512, 2);
    classpath = new ArrayList<>(app.sparkClasspath());
    classpath.addAll(AppJar.testJars("hadoop-aws-", "aws-java-sdk-bundle-"));
    cluster =
        StandaloneCluster.builder()
            .classpath(classpath)
            .workers(2)
            .coresPerWorker(1)
            .memoryPerWorker("2g")
            .start();
  }

  @AfterAll
  static void stop() throws IOException {
    try {
      if (cluster != null) {
        cluster.close();
      }
      if (fs != null) {
        fs.close();
      }
    } finally {
      if (s3 != null) {
        s3.close();
      }
    }
  }

  /** A submit of the application jar with the S3A settings; {@code args} go to spindle train. */
  private static Submit submit(String... args) {
    Submit s =
        Submit.of(app, cluster.masterUrl())
            .classpath(AppJar.testJars("hadoop-aws-", "aws-java-sdk-bundle-"));
    s3.s3a().forEach((k, v) -> s.conf("spark.hadoop." + k, v));
    return s.args(args);
  }

  private static String[] mnistArgs(String output, String... more) {
    List<String> a =
        new ArrayList<>(
            List.of(
                "train",
                "--output",
                output,
                "--set",
                "data.path=s3a://" + BUCKET + "/data/mnist",
                "--set",
                "training.epochs=1",
                "--set",
                "training.seed=7",
                "--set",
                "cluster.sync=collective",
                "--set",
                "cluster.roundSteps=50",
                "--set",
                "checkpoint.everySteps=100"));
    a.addAll(List.of(more));
    return a.toArray(String[]::new);
  }

  @Test
  @Order(1)
  void trainsMnistFromS3WithCheckpointsAndOutputsInS3() throws Exception {
    clean = "s3a://" + BUCKET + "/runs/clean";
    Path log = tmp.resolve("clean.log");
    Submit run = submit(mnistArgs(clean)).start(log);
    int code = run.waitFor(600);
    String text = Files.readString(log);
    assertEquals(0, code, "exit code; log:\n" + tail(text) + cluster.logs() + s3.log());
    for (String name :
        List.of(
            "summary.json",
            "model.zip",
            "metrics.jsonl",
            "report.html",
            "config.yaml",
            "spindle.log")) {
      assertTrue(exists(clean + "/" + name), name + " is not in S3 under " + clean);
    }
    JsonNode summary = json(clean + "/summary.json");
    assertEquals(STEPS, summary.get("steps").asLong());
    assertTrue(summary.get("test_accuracy").asDouble() > 0.9, summary.toString());
    for (long step : List.of(100L, 200L, 235L)) {
      String cp = clean + "/checkpoints/" + String.format("step-%012d", step);
      assertTrue(exists(cp + "/" + CheckpointStore.MANIFEST), cp + " has no manifest");
    }
    // object-store mode: written in place, no temporary directory ever listed
    for (var s : fs.listStatus(new org.apache.hadoop.fs.Path(clean + "/checkpoints"))) {
      assertFalse(s.getPath().getName().startsWith(".tmp-"), s.getPath().toString());
    }
    System.out.printf(
        Locale.ROOT,
        "[s3] MNIST from S3, checkpoints and outputs to S3: %d steps, test accuracy %.4f, %.1f s"
            + " training, %s checkpoints at %.2f s each, submit to exit %.1f s%n",
        STEPS,
        summary.get("test_accuracy").asDouble(),
        summary.get("wall_seconds").asDouble(),
        summary.path("checkpoints_written").asText(),
        summary.path("checkpoint_write_seconds_mean").asDouble(),
        run.elapsedSeconds());
  }

  @Test
  @Order(2)
  void driverKilledMidCheckpointResumesFromThePreviousCompleteOne() throws Exception {
    assertNotNull(clean, "needs the undisturbed run of case 1");
    String out = "s3a://" + BUCKET + "/runs/crash";
    String partial = out + "/checkpoints/step-000000000200";
    Path log = tmp.resolve("crash.log");
    // The driver's JVM alone (client mode: the submit JVM) gets the pausing S3A, through a
    // core-site.xml first on its classpath; the executors keep plain S3A.
    List<String> pausing = new ArrayList<>();
    pausing.add(
        CheckpointPause.hadoopConfDir(
                tmp.resolve("pausing-conf"),
                "s3a",
                PausingS3AFileSystem.class,
                200,
                CheckpointStore.MANIFEST)
            .toString());
    pausing.addAll(CheckpointPause.classpathOf(PausingS3AFileSystem.class, CheckpointPause.class));
    Submit first = submit(mnistArgs(out)).classpath(pausing).start(log);
    try {
      long paused = first.awaitLine(l -> l.startsWith(CheckpointPause.PAUSED), 600);
      assertTrue(paused > 0, "the writer never reached step 200; log:\n" + tail(log));
      // the driver JVM (client mode: the submit process) dies as in a crash, mid-checkpoint
      first.handle().destroyForcibly();
      first.handle().onExit().get();
    } finally {
      first.destroy();
    }
    for (String file :
        List.of(CheckpointStore.PARAMS, CheckpointStore.OPTIMIZER, CheckpointStore.CONFIG)) {
      assertTrue(exists(partial + "/" + file), file + " of the partial checkpoint is in S3");
    }
    assertFalse(exists(partial + "/" + CheckpointStore.MANIFEST), "no manifest: not committed");
    assertTrue(exists(out + "/checkpoints/step-000000000100/" + CheckpointStore.MANIFEST));
    assertFalse(exists(out + "/summary.json"));

    Path resumedLog = tmp.resolve("resumed.log");
    Submit resumed = submit(mnistArgs(out, "--resume")).start(resumedLog);
    int code = resumed.waitFor(600);
    String text = Files.readString(resumedLog);
    assertEquals(0, code, "exit code of the resumed run; log:\n" + tail(text) + cluster.logs());
    assertTrue(
        text.contains("skipping damaged checkpoint")
            && text.contains("step-000000000200 has no manifest.json"),
        tail(text));
    assertTrue(text.contains("resuming from") && text.contains("step-000000000100"), tail(text));
    assertTrue(text.contains("removing partial checkpoint"), tail(text));
    JsonNode summary = json(out + "/summary.json");
    JsonNode undisturbed = json(clean + "/summary.json");
    assertEquals(STEPS, summary.get("steps").asLong());
    assertEquals(
        undisturbed.get("test_accuracy").asDouble(), summary.get("test_accuracy").asDouble());
    assertArrayEquals(
        params(clean), params(out), "the resumed run's parameters differ from the undisturbed");
    assertTrue(exists(partial + "/" + CheckpointStore.MANIFEST), "step 200 written again");
    System.out.printf(
        Locale.ROOT,
        "[s3] driver killed while writing checkpoint step 200 (data files uploaded, no manifest):"
            + " resumed from step 100, %d steps, test accuracy %.4f = undisturbed %.4f, same"
            + " parameters; resumed run %.1f s%n",
        summary.get("steps").asLong(),
        summary.get("test_accuracy").asDouble(),
        undisturbed.get("test_accuracy").asDouble(),
        resumed.elapsedSeconds());
  }

  @Test
  @Order(3)
  void trainsFromAParquetTableInS3() throws Exception {
    String out = "s3a://" + BUCKET + "/runs/table";
    Path log = tmp.resolve("table.log");
    Submit run =
        submit(
                "train",
                "--output",
                out,
                "--set",
                "data.format=table",
                "--set",
                "data.dataset=linear",
                "--set",
                "data.path=s3a://" + BUCKET + "/data/linear/train",
                "--set",
                "data.testPath=s3a://" + BUCKET + "/data/linear/test",
                "--set",
                "data.featureColumn=x",
                "--set",
                "data.labelColumn=y",
                "--set",
                "data.task=regression",
                "--set",
                "model.layers=[{type: output, units: 1, activation: identity, loss: mse}]",
                "--set",
                "optimizer.learningRate=0.05",
                "--set",
                "training.epochs=4",
                "--set",
                "training.batchSize=32",
                "--set",
                "cluster.sync=collective")
            .start(log);
    int code = run.waitFor(600);
    String text = Files.readString(log);
    assertEquals(0, code, "exit code; log:\n" + tail(text) + cluster.logs());
    JsonNode summary = json(out + "/summary.json");
    assertEquals(4 * 2048 / 32, summary.get("steps").asLong());
    double loss = summary.get("test_loss").asDouble();
    // the target's variance is about 1.75; the fitted linear model gets close to 0
    assertTrue(loss < 0.01, "test MSE " + loss);
    System.out.printf(
        Locale.ROOT,
        "[s3] Parquet table from S3: %d steps, test MSE %.2e, submit to exit %.1f s%n",
        summary.get("steps").asLong(),
        loss,
        run.elapsedSeconds());
  }

  /** y = 2 x0 - x1 + 0.5 x2 + 1, x uniform in [-1, 1]; x an array column, y a double. */
  private static void writeLinearTable(Configuration conf, String uri, int rows, long seed)
      throws IOException {
    MessageType schema =
        MessageTypeParser.parseMessageType(
            "message linear { required group x (LIST) { repeated group list {"
                + " required double element; } } required double y; }");
    SimpleGroupFactory groups = new SimpleGroupFactory(schema);
    SplittableRandom rng = new SplittableRandom(seed);
    try (ParquetWriter<Group> w =
        ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(uri))
            .withConf(conf)
            .withType(schema)
            .build()) {
      for (int i = 0; i < rows; i++) {
        double[] x = {rng.nextDouble(-1, 1), rng.nextDouble(-1, 1), rng.nextDouble(-1, 1)};
        Group g = groups.newGroup();
        Group list = g.addGroup("x");
        for (double v : x) {
          list.addGroup("list").append("element", v);
        }
        g.append("y", 2 * x[0] - x[1] + 0.5 * x[2] + 1);
        w.write(g);
      }
    }
  }

  private static boolean exists(String uri) throws IOException {
    return fs.exists(new org.apache.hadoop.fs.Path(uri));
  }

  private static JsonNode json(String uri) throws IOException {
    try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(uri))) {
      return JSON.readTree(in);
    }
  }

  private static float[] params(String run) throws IOException {
    Path local = tmp.resolve("model-" + Math.abs(run.hashCode()) + ".zip");
    Files.deleteIfExists(local);
    fs.copyToLocalFile(
        new org.apache.hadoop.fs.Path(run + "/model.zip"),
        new org.apache.hadoop.fs.Path(local.toUri()));
    MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(local.toFile(), false);
    return net.params().castTo(DataType.FLOAT).toFloatVector();
  }

  private static String tail(Path log) throws IOException {
    return tail(Files.readString(log, StandardCharsets.UTF_8));
  }

  private static String tail(String log) {
    List<String> lines = log.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }
}
