package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ClusterConfig;
import io.spindle.config.Compression;
import io.spindle.config.ConfigException;
import io.spindle.config.SyncMode;
import io.spindle.driver.cli.ExitCode;
import io.spindle.driver.cli.SpindleCli;
import io.spindle.driver.cluster.SparkContexts;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/**
 * The slot check without a cluster: local masters are parsed and refused up front; the wait on a
 * cluster runs on a fake clock, so it is exact and instant.
 */
class BarrierSlotsTest {
  static ClusterConfig cluster(String master, int workers, SyncMode sync, int waitSeconds) {
    return new ClusterConfig(
        master, workers, sync, 4, 0, 0, Compression.NONE, 2, 0.01, true, 120, waitSeconds, 0, 0);
  }

  @Test
  void localMastersGiveTheirSlots() {
    assertEquals(1, BarrierSlots.localSlots("local", 1));
    assertEquals(2, BarrierSlots.localSlots("local[2]", 1));
    assertEquals(4, BarrierSlots.localSlots("local[4,3]", 1));
    assertEquals(2, BarrierSlots.localSlots("local[4]", 2));
    assertEquals(
        Runtime.getRuntime().availableProcessors(), BarrierSlots.localSlots("local[*]", 1));
    assertEquals(-1, BarrierSlots.localSlots("local-cluster[2,1,1024]", 1));
    assertEquals(-1, BarrierSlots.localSlots("spark://127.0.0.1:7077", 1));
    assertEquals(-1, BarrierSlots.localSlots("yarn", 1));
  }

  @Test
  void tooFewLocalSlotsAreRefusedNamingBothSettings() {
    ClusterConfig c = cluster("local[2]", 4, SyncMode.COLLECTIVE, 120);
    SparkConf conf = SparkContexts.conf(c, "test");
    ConfigException e =
        assertThrows(ConfigException.class, () -> BarrierSlots.checkUpFront(conf, c));
    assertTrue(
        e.getMessage().startsWith("cluster.workers is 4 but cluster.master local[2]"),
        e.getMessage());
    assertTrue(e.getMessage().contains("runs at most 2 tasks at once"), e.getMessage());
    assertTrue(e.getMessage().contains("local[4]"), e.getMessage());
    assertEquals(ExitCode.BAD_CONFIG, SpindleCli.classify(e));
    // spark.task.cpus counts too
    ClusterConfig four = cluster("local[4]", 4, SyncMode.COLLECTIVE, 120);
    SparkConf twoCpus = SparkContexts.conf(four, "test").set("spark.task.cpus", "2");
    assertTrue(
        assertThrows(ConfigException.class, () -> BarrierSlots.checkUpFront(twoCpus, four))
            .getMessage()
            .contains("with spark.task.cpus=2"));
    // enough slots, or a sync without barrier stages: nothing to refuse
    ClusterConfig enough = cluster("local[4]", 4, SyncMode.COLLECTIVE, 120);
    assertDoesNotThrow(() -> BarrierSlots.checkUpFront(SparkContexts.conf(enough, "t"), enough));
    ClusterConfig sharing = cluster("local[2]", 4, SyncMode.GRADIENT_SHARING, 120);
    assertDoesNotThrow(() -> BarrierSlots.checkUpFront(SparkContexts.conf(sharing, "t"), sharing));
  }

  /** With cluster.minWorkers below cluster.workers the floor is what local mode must offer. */
  @Test
  void anElasticRunNeedsItsFloorOfLocalSlots() {
    ClusterConfig fourUpToTwo = cluster("local[2]", 4, SyncMode.COLLECTIVE, 120).withWorkers(4, 2);
    assertDoesNotThrow(
        () -> BarrierSlots.checkUpFront(SparkContexts.conf(fourUpToTwo, "t"), fourUpToTwo));
    ClusterConfig fourUpToThree =
        cluster("local[2]", 4, SyncMode.COLLECTIVE, 120).withWorkers(4, 3);
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> BarrierSlots.checkUpFront(SparkContexts.conf(fourUpToThree, "t"), fourUpToThree));
    assertTrue(
        e.getMessage().startsWith("cluster.minWorkers is 3 but cluster.master local[2]"),
        e.getMessage());
    assertTrue(e.getMessage().endsWith("or cluster.minWorkers to 2"), e.getMessage());
  }

  @Test
  void dynamicAllocationIsRefusedForBarrierStages() {
    ClusterConfig c = cluster("spark://127.0.0.1:7077", 2, SyncMode.COLLECTIVE, 120);
    SparkConf conf = SparkContexts.conf(c, "t").set("spark.dynamicAllocation.enabled", "true");
    assertTrue(
        assertThrows(ConfigException.class, () -> BarrierSlots.checkUpFront(conf, c))
            .getMessage()
            .contains("spark.dynamicAllocation.enabled=true"));
  }

  /**
   * Spindle waits for executors itself (with cluster.executorWaitSeconds as the bound); Spark's own
   * check, which only meets a round whose executor was lost between forming and submitting, gives
   * up within seconds whatever the wait, so that the round is formed again from the survivors.
   */
  @Test
  void sparksOwnBarrierCheckGivesUpWithinSeconds() {
    for (int wait : new int[] {0, 120, 600}) {
      SparkConf conf =
          SparkContexts.conf(cluster("spark://h:7077", 2, SyncMode.COLLECTIVE, wait), "t");
      assertEquals("1s", conf.get("spark.scheduler.barrier.maxConcurrentTasksCheck.interval"));
      assertEquals("2", conf.get("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures"));
      assertTrue(conf.get("spark.extraListeners").contains(ExecutorSlots.class.getName()));
    }
  }

  /** A clock that advances only when the wait sleeps. */
  static final class FakeClock {
    final AtomicLong nanos = new AtomicLong();
    int sleeps;

    long now() {
      return nanos.get();
    }

    void sleep(long millis) {
      sleeps++;
      nanos.addAndGet(millis * 1_000_000L);
    }
  }

  @Test
  void waitReturnsWhenTheSlotsArriveWithProgressLines() {
    FakeClock clock = new FakeClock();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    // 0 slots for 3 s, 1 until 25 s, then 2
    BarrierSlots.await(
        () -> clock.now() < 3_000_000_000L ? 0 : clock.now() < 25_000_000_000L ? 1 : 2,
        () -> "n",
        2,
        120,
        1,
        clock::now,
        clock::sleep,
        new PrintStream(out, true, StandardCharsets.UTF_8));
    String console = out.toString(StandardCharsets.UTF_8);
    assertTrue(console.contains("waiting for executors: 0 of 2 task slots after 0 s"), console);
    assertTrue(console.contains("waiting for executors: 1 of 2 task slots after 3 s"), console);
    assertTrue(console.contains("1 of 2 task slots after 13 s"), console); // every 10 s
    assertTrue(console.contains("2 task slots available after 25.0 s; starting"), console);
    assertTrue(console.contains("giving up after 120 s (cluster.executorWaitSeconds)"), console);
    assertEquals(5, console.lines().count(), console);
  }

  @Test
  void enoughSlotsFromTheStartPrintNothing() {
    FakeClock clock = new FakeClock();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    BarrierSlots.await(
        () -> 3, () -> "n", 2, 120, 1, clock::now, clock::sleep, new PrintStream(out));
    assertEquals(0, out.size());
    assertEquals(0, clock.sleeps);
  }

  @Test
  void waitFailsAfterTheBoundSayingWhatIsMissing() {
    FakeClock clock = new FakeClock();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ClusterCapacityException e =
        assertThrows(
            ClusterCapacityException.class,
            () ->
                BarrierSlots.await(
                    () -> 1,
                    () -> "1 [0 on 10.0.0.5: 1 core]",
                    3,
                    30,
                    1,
                    clock::now,
                    clock::sleep,
                    new PrintStream(out, true, StandardCharsets.UTF_8)));
    String m = e.getMessage();
    assertTrue(m.contains("needs 3 task slots at once (cluster.workers=3"), m);
    assertTrue(m.contains("after waiting 30 s (cluster.executorWaitSeconds)"), m);
    assertTrue(m.contains("the executors offer 1 (executors: 1 [0 on 10.0.0.5: 1 core])"), m);
    assertTrue(m.contains("missing 2 slots"), m);
    assertEquals(30_000_000_000L, clock.now(), "gave up exactly at the bound");
    assertEquals(ExitCode.CLUSTER_FAILURE, SpindleCli.classify(e));
    // progress: at 0 s, then every 10 s while the count stays the same
    assertEquals(3, out.toString(StandardCharsets.UTF_8).lines().count());
  }

  @Test
  void aZeroWaitFailsAtOnce() {
    FakeClock clock = new FakeClock();
    assertThrows(
        ClusterCapacityException.class,
        () ->
            BarrierSlots.await(
                () -> 0,
                () -> "0",
                2,
                0,
                1,
                clock::now,
                clock::sleep,
                new PrintStream(new ByteArrayOutputStream())));
    assertEquals(0, clock.sleeps);
  }
}
