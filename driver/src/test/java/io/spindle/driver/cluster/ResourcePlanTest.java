package io.spindle.driver.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import java.util.List;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** Resource sizing: the derived need, and one refusal per setting, each naming that setting. */
class ResourcePlanTest {
  private static final String OPENS = "--add-opens=java.base/java.nio=ALL-UNNAMED";

  private static SpindleConfig config(String... overrides) {
    return ConfigLoader.load(null, List.of(overrides));
  }

  /** A cluster conf that fits the default model: 1g heap, 1G off-heap, 1536m overhead. */
  private static SparkConf cluster() {
    return new SparkConf(false)
        .set("spark.master", "spark://127.0.0.1:7077")
        .set("spark.executor.memory", "1g")
        .set("spark.executor.memoryOverhead", "1536m")
        .set("spark.executor.cores", "1")
        .set("spark.task.cpus", "1")
        .set(
            "spark.executor.extraJavaOptions",
            OPENS
                + " -Dorg.bytedeco.javacpp.maxbytes=1G -Dorg.bytedeco.javacpp.maxphysicalbytes=3G");
  }

  @Test
  void defaultModelFitsTheDocumentedClusterSettings() {
    ResourcePlan plan = ResourcePlan.of(config(), cluster());
    // 784*800+800 + 800*800+800 + 800*10+10 parameters.
    assertEquals(1_276_810, plan.parameters());
    assertEquals(128, plan.workerBatch());
    assertEquals(1L << 30, plan.maxBytes());
    assertEquals(3L << 30, plan.maxPhysicalBytes());
    assertEquals(List.of(), plan.problems());
    // default sync collective: the worker also holds Adam's two state vectors, so
    // 2 x ((4 + 2) model copies x 4 bytes + 3 x 128 x (784+1610) x 4 bytes) + 64 MiB.
    long expected = 2 * (6L * 1_276_810 * 4 + 3L * 128 * (784 + 1610) * 4) + (64L << 20);
    assertEquals(expected, plan.offHeapNeedBytes());
  }

  @Test
  void needGrowsWithModelAndBatch() {
    long small = ResourcePlan.of(config(), cluster()).offHeapNeedBytes();
    long wide = ResourcePlan.of(config("model.layers[0].units=4000"), cluster()).offHeapNeedBytes();
    long big = ResourcePlan.of(config("training.batchSize=4096"), cluster()).offHeapNeedBytes();
    assertTrue(wide > small && big > small, small + " " + wide + " " + big);
  }

  @Test
  void tooLittleOffHeapNamesMaxbytes() {
    SparkConf conf =
        cluster()
            .set(
                "spark.executor.extraJavaOptions",
                "-Dorg.bytedeco.javacpp.maxbytes=64m -Dorg.bytedeco.javacpp.maxphysicalbytes=3G");
    ConfigException e =
        assertThrows(ConfigException.class, () -> ResourcePlan.of(config(), conf).check());
    assertTrue(e.getMessage().contains("-Dorg.bytedeco.javacpp.maxbytes"), e.getMessage());
    assertTrue(e.getMessage().contains("spark.executor.extraJavaOptions"), e.getMessage());
  }

  @Test
  void maxPhysicalBelowHeapPlusOffHeapNamesMaxphysicalbytes() {
    SparkConf conf =
        cluster()
            .set(
                "spark.executor.extraJavaOptions",
                "-Dorg.bytedeco.javacpp.maxbytes=1G -Dorg.bytedeco.javacpp.maxphysicalbytes=1500m");
    List<String> problems = ResourcePlan.of(config(), conf).problems();
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).contains("maxphysicalbytes"), problems.get(0));
    assertTrue(problems.get(0).contains("at least 2048m"), problems.get(0));
  }

  @Test
  void smallOverheadNamesMemoryOverhead() {
    List<String> problems =
        ResourcePlan.of(
                config(),
                cluster().set("spark.master", "yarn").set("spark.executor.memoryOverhead", "512m"))
            .problems();
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(
        problems.get(0).startsWith("spark.executor.memoryOverhead is 512m"), problems.get(0));
    assertTrue(problems.get(0).contains("at least 1424m"), problems.get(0));
  }

  @Test
  void standaloneDoesNotEnforceOverhead() {
    SparkConf conf = cluster().set("spark.executor.memoryOverhead", "512m");
    assertEquals(List.of(), ResourcePlan.of(config(), conf).problems());
    conf.set("spark.master", "k8s://https://127.0.0.1:6443");
    assertEquals(1, ResourcePlan.of(config(), conf).problems().size());
  }

  @Test
  void moreThreadsThanTaskCpusNamesTaskCpus() {
    List<String> problems =
        ResourcePlan.of(config("cluster.threadsPerWorker=4"), cluster()).problems();
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).contains("set spark.task.cpus to 4"), problems.get(0));
  }

  @Test
  void severalTasksPerExecutorAreRefused() {
    List<String> problems =
        ResourcePlan.of(config(), cluster().set("spark.executor.cores", "4")).problems();
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).contains("set spark.task.cpus=4"), problems.get(0));
  }

  @Test
  void badSizeIsAConfigError() {
    SparkConf conf =
        cluster().set("spark.executor.extraJavaOptions", "-Dorg.bytedeco.javacpp.maxbytes=lots");
    assertThrows(ConfigException.class, () -> ResourcePlan.of(config(), conf));
  }

  @Test
  void refusedThroughTheCliWithExitTwo(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
    var err = new java.io.ByteArrayOutputStream();
    int code =
        io.spindle.driver.cli.SpindleCli.run(
            new String[] {
              "train",
              "--set",
              "cluster.master=spark://127.0.0.1:1",
              "--set",
              "cluster.threadsPerWorker=8",
              "--output",
              tmp.resolve("run").toString()
            },
            System.out,
            new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    assertEquals(2, code, err.toString());
    assertTrue(err.toString().contains("spark.task.cpus"), err.toString());
  }
}
