package io.spindle.driver.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ClusterConfig;
import io.spindle.config.Compression;
import io.spindle.config.SyncMode;
import io.spindle.driver.BarrierSlots;
import io.spindle.driver.ClusterCapacityException;
import io.spindle.driver.ExecutorSlots;
import io.spindle.driver.cli.ExitCode;
import io.spindle.driver.cli.SpindleCli;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wait for task slots on a real standalone cluster with one single-core Worker: it counts the
 * executor Spark announces, returns once the slots are there, and otherwise gives up after {@code
 * cluster.executorWaitSeconds} saying what is missing, which {@code spindle train} turns into exit
 * code 5.
 */
class SlotWaitStandaloneTest {
  static ClusterConfig collective(String master, int workers, int waitSeconds) {
    return new ClusterConfig(
        master,
        workers,
        SyncMode.COLLECTIVE,
        4,
        0,
        0,
        Compression.NONE,
        2,
        0.01,
        true,
        120,
        waitSeconds);
  }

  @Test
  void countsTheExecutorsSlotsAndGivesUpWhenSlotsStayMissing(@TempDir Path tmp) throws Exception {
    try (StandaloneCluster cluster = StandaloneCluster.builder().workers(1).start()) {
      ClusterConfig one = collective(cluster.masterUrl(), 1, 180);
      SparkConf conf =
          SparkContexts.conf(one, "slot-wait")
              .set("spark.ui.enabled", "false")
              .set("spark.executor.memory", "512m")
              .set("spark.executor.cores", "1");
      ByteArrayOutputStream console = new ByteArrayOutputStream();
      PrintStream print = new PrintStream(console, true, StandardCharsets.UTF_8);
      try (JavaSparkContext sc = new JavaSparkContext(conf)) {
        BarrierSlots.await(sc, one, print); // returns once the one executor is there
        assertEquals(1, ExecutorSlots.of(sc.getConf()).orElseThrow().slots(sc.getConf()));

        ClusterCapacityException e =
            assertThrows(
                ClusterCapacityException.class,
                () -> BarrierSlots.await(sc, collective(cluster.masterUrl(), 2, 2), print));
        String m = e.getMessage();
        assertTrue(m.contains("needs 2 task slots at once (cluster.workers=2"), m);
        assertTrue(m.contains("after waiting 2 s (cluster.executorWaitSeconds)"), m);
        assertTrue(m.contains("the executors offer 1 (executors: 1 [0 on 127.0.0.1: 1 core])"), m);
        assertTrue(m.contains("missing 1 slot."), m);
        assertTrue(
            console.toString(StandardCharsets.UTF_8).contains("waiting for executors: 1 of 2"),
            console.toString(StandardCharsets.UTF_8));
      }

      // The same through the command line: exit code 5 and the message on one line.
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int code =
          SpindleCli.run(
              new String[] {
                "train",
                "--set",
                "cluster.master=" + cluster.masterUrl(),
                "--set",
                "cluster.workers=2",
                "--set",
                "cluster.executorWaitSeconds=3",
                "--set",
                "data.mirror=" + TestDatasets.mirror(),
                "--set",
                "data.trainLimit=512",
                "--output",
                tmp.resolve("run").toString()
              },
              new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
              new PrintStream(err, true, StandardCharsets.UTF_8));
      String e = err.toString(StandardCharsets.UTF_8);
      assertEquals(ExitCode.CLUSTER_FAILURE.code(), code, e);
      assertTrue(e.startsWith("spindle: cluster failure: cluster.sync collective needs 2"), e);
      assertEquals(1, e.lines().count(), e);
    }
  }
}
