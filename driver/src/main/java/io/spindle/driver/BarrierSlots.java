package io.spindle.driver;

import io.spindle.config.ClusterConfig;
import io.spindle.config.ConfigException;
import io.spindle.config.SyncMode;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Task slots for the collective engine's barrier stages, checked before the first one.
 *
 * <p>A barrier stage launches all its tasks at once or none: {@code cluster.workers} tasks, each
 * needing a free slot ({@code spark.task.cpus} cores, and the resources a task claims). Spark
 * checks this when a barrier job is submitted, and when it fails retries every {@code
 * spark.scheduler.barrier.maxConcurrentTasksCheck.interval} (15 s) up to {@code ...maxFailures}
 * (40) times: 10 minutes of silence before it gives up. Spindle instead:
 *
 * <ul>
 *   <li>in local mode ({@code local}, {@code local[N]}, {@code local[*]}, {@code local[N,F]}),
 *       where the slots are known from the master alone, refuses up front ({@link #checkUpFront},
 *       before the Spark context starts; a config error, exit 2) naming {@code cluster.workers} and
 *       the master;
 *   <li>on a cluster ({@link #await}) waits up to {@code cluster.executorWaitSeconds} for executors
 *       offering the slots, printing a progress line, then fails with {@link
 *       ClusterCapacityException} (exit 5) saying how many slots were missing;
 *   <li>and sets Spark's own check to give up within about two seconds ({@link
 *       io.spindle.driver.cluster.SparkContexts#conf}): before every round Spindle waits for the
 *       executors itself ({@link WorkerPool#await}), so Spark's check only meets a round whose
 *       executor was lost after the round took its workers, and that round is better formed again
 *       from the survivors at once than left in Spark's retries, where no job-group cancel reaches
 *       it (the job is not active yet).
 * </ul>
 *
 * Only the {@code collective} sync runs barrier stages; the other syncs run with any number of
 * slots (their tasks queue).
 */
public final class BarrierSlots {
  private static final Pattern LOCAL = Pattern.compile("local(?:\\[(\\d+|\\*)(?:,\\s*\\d+)?])?");

  /** Seconds between progress lines while the count of slots does not change. */
  static final int PROGRESS_EVERY_SECONDS = 10;

  private BarrierSlots() {}

  /**
   * Task slots of a local master ({@code local} 1, {@code local[N]} N, {@code local[*]} the
   * machine's cores, {@code local[N,F]} N) divided by {@code taskCpus}; -1 for any other master,
   * including {@code local-cluster[...]}, whose executors are real processes that register later.
   */
  public static int localSlots(String master, int taskCpus) {
    Matcher m = LOCAL.matcher(master.trim());
    if (!m.matches()) {
      return -1;
    }
    String n = m.group(1);
    int cores =
        n == null ? 1 : n.equals("*") ? Runtime.getRuntime().availableProcessors() : parse(n);
    return cores / Math.max(1, taskCpus);
  }

  private static int parse(String n) {
    try {
      return Integer.parseInt(n);
    } catch (NumberFormatException e) {
      return Integer.MAX_VALUE; // absurdly many: never a reason to refuse
    }
  }

  /**
   * Refuses, before Spark starts, what cannot run barrier stages: in local mode fewer task slots
   * than {@code cluster.workers}; anywhere, dynamic allocation (Spark refuses barrier stages under
   * it). Does nothing unless the sync is {@code collective}.
   *
   * @param conf the effective Spark settings ({@link io.spindle.driver.cluster.SparkContexts#conf})
   */
  public static void checkUpFront(SparkConf conf, ClusterConfig cluster) {
    if (cluster.sync() != SyncMode.COLLECTIVE) {
      return;
    }
    String master = conf.get("spark.master", "");
    if (conf.getBoolean("spark.dynamicAllocation.enabled", false) && localSlots(master, 1) < 0) {
      throw new ConfigException(
          "cluster.sync collective runs Spark barrier stages, which Spark does not allow with"
              + " spark.dynamicAllocation.enabled=true; set it to false (and spark.executor.instances"
              + " to cluster.workers), or set cluster.sync to gradient_sharing");
    }
    int taskCpus = conf.getInt("spark.task.cpus", 1);
    int slots = localSlots(master, taskCpus);
    if (slots >= 0 && slots < cluster.workerFloor()) {
      throw new ConfigException(tooFewLocalSlots(master, cluster, taskCpus, slots));
    }
  }

  static String tooFewLocalSlots(String master, ClusterConfig cluster, int taskCpus, int slots) {
    String source =
        master.equals(cluster.master())
            ? "cluster.master " + master
            : "the master " + master + " (spark.master, e.g. spark-submit --master)";
    String key = cluster.elastic() ? "cluster.minWorkers" : "cluster.workers";
    return String.format(
        Locale.ROOT,
        "%s is %d but %s runs at most %d task%s at once%s; cluster.sync collective"
            + " runs every worker's task at the same time (one Spark barrier stage), so it would"
            + " wait for slots that never come. Set cluster.master to local[%d] (or leave it empty"
            + " for local[cluster.workers]), or %s to %d",
        key,
        cluster.workerFloor(),
        source,
        slots,
        slots == 1 ? "" : "s",
        taskCpus == 1 ? "" : " with spark.task.cpus=" + taskCpus,
        cluster.workerFloor() * Math.max(1, taskCpus),
        key,
        Math.max(1, slots));
  }

  /**
   * Before the first barrier stage: returns once the executors offer the fewest task slots the run
   * goes on with ({@code cluster.minWorkers}, by default {@code cluster.workers}); in local mode
   * refuses at once (as {@link #checkUpFront}); on a cluster waits up to {@code
   * cluster.executorWaitSeconds} with a progress line on {@code console}, then throws {@link
   * ClusterCapacityException}. Returns at once for other syncs, or for a context not made by {@link
   * io.spindle.driver.cluster.SparkContexts} (no {@link ExecutorSlots} listener: Spark's own
   * bounded check is all there is). Each round then takes the workers alive at its start ({@link
   * WorkerPool}).
   */
  public static void await(JavaSparkContext sc, ClusterConfig cluster, PrintStream console) {
    if (cluster.sync() != SyncMode.COLLECTIVE) {
      return;
    }
    SparkConf conf = sc.getConf();
    int taskCpus = conf.getInt("spark.task.cpus", 1);
    int local = localSlots(sc.master(), taskCpus);
    if (local >= 0) {
      if (local < cluster.workerFloor()) {
        throw new ConfigException(tooFewLocalSlots(sc.master(), cluster, taskCpus, local));
      }
      return;
    }
    ExecutorSlots executors = ExecutorSlots.of(conf).orElse(null);
    if (executors == null) {
      return;
    }
    if (cluster.elastic()) {
      WorkerPool.of(sc, cluster, console).await();
      return;
    }
    await(
        () -> executors.slots(conf),
        executors::describe,
        cluster.workers(),
        cluster.executorWaitSeconds(),
        taskCpus,
        System::nanoTime,
        BarrierSlots::sleep,
        console);
  }

  /** Sleeps for a short while between polls. */
  @FunctionalInterface
  interface Sleeper {
    void sleep(long millis);
  }

  /**
   * The wait itself, with its clock and sleep passed in (tests drive both).
   *
   * @param slots the task slots the executors offer now
   * @param executors the executors, for messages
   */
  static void await(
      IntSupplier slots,
      Supplier<String> executors,
      int needed,
      int waitSeconds,
      int taskCpus,
      LongSupplier nanos,
      Sleeper sleeper,
      PrintStream console) {
    await(
        slots,
        executors,
        needed,
        waitSeconds,
        nanos,
        sleeper,
        console,
        (have, described) ->
            String.format(
                Locale.ROOT,
                "cluster.sync collective needs %d task slots at once (cluster.workers=%d,"
                    + " spark.task.cpus=%d), but after waiting %d s (cluster.executorWaitSeconds)"
                    + " the executors offer %d (executors: %s); missing %d slot%s. Start more"
                    + " executors (spark.executor.instances, spark.cores.max, more workers), raise"
                    + " cluster.executorWaitSeconds if they are slow to start, or set"
                    + " cluster.workers to %d",
                needed,
                needed,
                taskCpus,
                waitSeconds,
                have,
                described,
                needed - have,
                needed - have == 1 ? "" : "s",
                Math.max(1, have)));
  }

  /** What a wait that ran out says, given the slots offered and the executors described. */
  @FunctionalInterface
  interface Shortfall {
    String message(int have, String executors);
  }

  /**
   * Waits until {@code slots} reaches {@code needed}, printing a progress line when the count
   * changes and every {@link #PROGRESS_EVERY_SECONDS}; after {@code waitSeconds} throws {@link
   * ClusterCapacityException} with {@code shortfall}'s message.
   */
  static void await(
      IntSupplier slots,
      Supplier<String> executors,
      int needed,
      int waitSeconds,
      LongSupplier nanos,
      Sleeper sleeper,
      PrintStream console,
      Shortfall shortfall) {
    long start = nanos.getAsLong();
    long deadline = start + waitSeconds * 1_000_000_000L;
    int last = -1;
    long lastLine = start;
    while (true) {
      int have = slots.getAsInt();
      if (have >= needed) {
        if (last >= 0) {
          console.printf(
              Locale.ROOT,
              "spindle: %d task slots available after %.1f s; starting%n",
              have,
              (nanos.getAsLong() - start) / 1e9);
        }
        return;
      }
      long now = nanos.getAsLong();
      if (now - deadline >= 0) {
        throw new ClusterCapacityException(shortfall.message(have, executors.get()));
      }
      if (have != last || now - lastLine >= PROGRESS_EVERY_SECONDS * 1_000_000_000L) {
        console.printf(
            Locale.ROOT,
            "spindle: waiting for executors: %d of %d task slots after %.0f s (executors: %s);"
                + " giving up after %d s (cluster.executorWaitSeconds)%n",
            have,
            needed,
            (now - start) / 1e9,
            executors.get(),
            waitSeconds);
        last = have;
        lastLine = now;
      }
      sleeper.sleep(Math.min(250, Math.max(1, (deadline - now) / 1_000_000)));
    }
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ClusterCapacityException("interrupted while waiting for executors");
    }
  }
}
