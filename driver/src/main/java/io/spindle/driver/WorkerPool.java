package io.spindle.driver;

import io.spindle.config.ClusterConfig;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The live workers a round can use: between {@code cluster.minWorkers} (the floor) and {@code
 * cluster.workers} (the most), as many as the executors offer task slots at the round's start.
 *
 * <p>The slots are counted by {@link ExecutorSlots}, the {@code SparkListener} that follows
 * executors being added and removed (Spark's public listener events; in local mode the one executor
 * Spark announces for the driver). {@link #await} returns the round's worker count; with fewer
 * slots than the floor it waits up to {@code cluster.executorWaitSeconds}, printing a progress
 * line, and then fails with {@link ClusterCapacityException} (exit 5) saying what was missing. A
 * round that fails this way has not started, so nothing is half-committed: the newest checkpoint
 * stays the run's valid state.
 */
public final class WorkerPool {
  private final int most;
  private final int floor;
  private final boolean elastic;
  private final int waitSeconds;
  private final int taskCpus;
  private final IntSupplier slots;
  private final Supplier<String> executors;
  private final PrintStream console;
  private final boolean checksFloorForEverySync;
  private final String sync;

  private WorkerPool(
      int most,
      int floor,
      int waitSeconds,
      int taskCpus,
      IntSupplier slots,
      Supplier<String> executors,
      PrintStream console,
      boolean checksFloorForEverySync,
      String sync) {
    this.most = most;
    this.sync = sync;
    this.floor = floor;
    this.elastic = floor < most;
    this.waitSeconds = waitSeconds;
    this.taskCpus = taskCpus;
    this.slots = slots;
    this.executors = executors;
    this.console = console;
    this.checksFloorForEverySync = checksFloorForEverySync;
  }

  /**
   * The pool of {@code sc}'s executors for {@code cluster}. Without an {@link ExecutorSlots}
   * listener (a context not made by {@code SparkContexts}) the slots are those of a local master,
   * or else taken to be {@code cluster.workers}.
   */
  public static WorkerPool of(JavaSparkContext sc, ClusterConfig cluster, PrintStream console) {
    SparkConf conf = sc.getConf();
    int taskCpus = Math.max(1, conf.getInt("spark.task.cpus", 1));
    int local = BarrierSlots.localSlots(sc.master(), taskCpus);
    ExecutorSlots listener = ExecutorSlots.of(conf).orElse(null);
    IntSupplier slots;
    Supplier<String> described;
    if (listener != null) {
      slots = () -> listener.slots(conf);
      described = listener::describe;
    } else {
      int fixed = local >= 0 ? local : cluster.workers();
      slots = () -> fixed;
      described = () -> fixed + " task slots (" + sc.master() + ")";
    }
    return new WorkerPool(
        cluster.workers(),
        cluster.workerFloor(),
        cluster.executorWaitSeconds(),
        taskCpus,
        slots,
        described,
        console,
        local < 0,
        cluster.sync().configName());
  }

  /** Always {@code workers} live workers (no cluster to watch). */
  public static WorkerPool fixed(int workers) {
    return new WorkerPool(
        workers,
        workers,
        0,
        1,
        () -> workers,
        () -> workers + " workers",
        new PrintStream(PrintStream.nullOutputStream()),
        false,
        "");
  }

  /** The most workers a round uses ({@code cluster.workers}). */
  public int most() {
    return most;
  }

  /** The fewest workers the run goes on with ({@code cluster.minWorkers}). */
  public int floor() {
    return floor;
  }

  /** Workers a round could use now: the slots offered, at most {@link #most()}; may be 0. */
  public int available() {
    return Math.min(most, slots.getAsInt());
  }

  /** How long a round waits for the floor ({@code cluster.executorWaitSeconds}). */
  public int waitSeconds() {
    return waitSeconds;
  }

  /** The executors, for messages. */
  public String describe() {
    return executors.get();
  }

  /**
   * The workers of the next round: {@link #available()} once it reaches the floor, waiting up to
   * {@code cluster.executorWaitSeconds} for that; then {@link ClusterCapacityException}.
   */
  public int await() {
    await(System::nanoTime, BarrierSlots::sleep);
    return Math.max(floor, available());
  }

  /**
   * For the syncs without barrier stages ({@code gradient_sharing}, {@code parameter_averaging}),
   * whose tasks queue for whatever slots exist: on a cluster, the floor holds as for {@code
   * collective} ({@link #await}); in local mode, where the slots never change, nothing is checked.
   */
  public void checkFloor() {
    if (checksFloorForEverySync) {
      await();
    }
  }

  void await(LongSupplier nanos, BarrierSlots.Sleeper sleeper) {
    BarrierSlots.await(
        this::available, executors, floor, waitSeconds, nanos, sleeper, console, this::shortfall);
  }

  private String shortfall(int have, String described) {
    String need =
        elastic
            ? String.format(
                Locale.ROOT,
                "the run needs at least %d live workers (cluster.minWorkers; at most"
                    + " cluster.workers=%d)",
                floor,
                most)
            : String.format(
                Locale.ROOT,
                "cluster.sync %s needs %d workers (cluster.workers=%d; a lower cluster.minWorkers"
                    + " lets a run go on with fewer)",
                sync,
                floor,
                most);
    return String.format(
        Locale.ROOT,
        "%s, but after waiting %d s (cluster.executorWaitSeconds) the executors offer %d task"
            + " slot%s (spark.task.cpus=%d; executors: %s); missing %d. The newest checkpoint is"
            + " the run's valid state: start more executors and resume it (train --resume)%s",
        need,
        waitSeconds,
        have,
        have == 1 ? "" : "s",
        taskCpus,
        described,
        floor - have,
        elastic ? ", or lower cluster.minWorkers" : "");
  }
}
