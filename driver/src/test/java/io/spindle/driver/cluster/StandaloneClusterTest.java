package io.spindle.driver.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/** The fixture itself: two workers register, a job runs on two executors, close kills them all. */
class StandaloneClusterTest {
  @Test
  void runsAJobOnTwoExecutorsAndStopsEverything() throws Exception {
    Path home;
    List<Long> pids;
    try (StandaloneCluster cluster = StandaloneCluster.builder().workers(2).start()) {
      home = cluster.home();
      assertEquals("ALIVE", cluster.masterJson().path("status").asText());
      assertEquals(2, cluster.masterJson().path("aliveworkers").asInt());
      assertTrue(cluster.masterUrl().startsWith("spark://127.0.0.1:"));
      SparkConf conf =
          new SparkConf()
              .setMaster(cluster.masterUrl())
              .setAppName("fixture-test")
              .set("spark.driver.host", "127.0.0.1")
              .set("spark.driver.bindAddress", "127.0.0.1")
              .set("spark.ui.enabled", "false")
              .set("spark.executor.memory", "512m")
              .set("spark.executor.cores", "1")
              .set("spark.cores.max", "2");
      try (JavaSparkContext sc = new JavaSparkContext(conf)) {
        sc.setLogLevel("WARN");
        // Wait for both executors, so the two tasks run in two JVMs.
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (cluster.executorPids().size() < 2 && System.nanoTime() < deadline) {
          Thread.sleep(200);
        }
        pids = cluster.executorPids();
        assertEquals(2, pids.size(), "executor JVMs: " + pids + cluster.logs());
        TreeSet<Long> seen = new TreeSet<>();
        for (int attempt = 0; attempt < 5 && seen.size() < 2; attempt++) {
          seen.addAll(
              sc.parallelize(List.of(1, 2, 3, 4), 4)
                  .map(
                      x -> {
                        Thread.sleep(300);
                        return ProcessHandle.current().pid();
                      })
                  .collect());
        }
        assertEquals(new TreeSet<>(pids), seen, "tasks ran in the listed executor JVMs");
      }
    }
    for (long pid : pids) {
      assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "pid " + pid);
    }
    assertFalse(Files.exists(home), "temporary folder removed");
  }
}
