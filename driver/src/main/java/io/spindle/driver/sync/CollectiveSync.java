package io.spindle.driver.sync;

import io.spindle.compress.CompressionState;
import io.spindle.compress.ExchangeState;
import io.spindle.config.CompressionSpec;
import io.spindle.config.RingTransport;
import io.spindle.config.SyncMode;
import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.data.ShardAssignment;
import io.spindle.driver.ClusterCapacityException;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.ParameterSync;
import io.spindle.driver.RoundResult;
import io.spindle.driver.StepProgress;
import io.spindle.driver.WorkerPool;
import io.spindle.driver.data.WorkerShards;
import io.spindle.optim.FlatOptimizer;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.collective.CollectiveResult;
import io.spindle.worker.collective.CollectiveSpec;
import io.spindle.worker.collective.CollectiveTrainer;
import io.spindle.worker.collective.ProgressService;
import io.spindle.worker.collective.ProgressTarget;
import io.spindle.worker.collective.Rendezvous;
import io.spindle.worker.collective.RoundStart;
import io.spindle.worker.collective.StickyState;
import java.io.PrintStream;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Synchronous gradient sharing through the collective engine: one Spark barrier stage per round of
 * up to R steps, inside which the workers all-reduce gradients directly with each other over TCP
 * every step and apply the global step themselves (see {@link CollectiveTrainer} for the protocol).
 * The driver only offers the starting state and commits the end state of each round (the
 * parameters, the optimiser state and, with lossy compression, every worker's exchange state, kept
 * in {@link GlobalModel#exchangeState()}), so a relaunched stage redoes the round from the last
 * committed state: no step is lost or applied twice.
 *
 * <p><b>The state off Spark's serialiser.</b> With the driver's {@link Rendezvous} (always in
 * production; the constructor's {@code driverRendezvous}), the state travels as raw bits through
 * that per-round authenticated server both ways: a task whose executor misses a start value fetches
 * it by digest (nothing is broadcast), and every task uploads its end state before its Spark
 * result, which names the uploads by stage attempt and SHA-256 and carries only counters. The
 * driver commits only the uploads of the attempt whose results Spark returned, with the digests
 * they name ({@link Rendezvous#withUploads}). Without the rendezvous (tests, {@code allGather}) the
 * start travels in broadcasts and the end in the results, as before (docs/round-state.md).
 *
 * <p><b>Elastic rounds.</b> Each round is formed from the workers alive at its start ({@link
 * WorkerPool}: between {@code cluster.minWorkers} and {@code cluster.workers}, as many as the
 * executors offer slots). Every global batch is cut into a fixed number L of logical shards, one
 * partition of the epoch's batches each; a round with M workers gives each the consecutive shards
 * {@link ShardAssignment} names and, when M &lt; L, runs on the shards grouped for M workers
 * ({@link WorkerShards}, one shuffle of the rest of the epoch, kept while M stays). The ring has M
 * members, the ZeRO-1 chunks are {@code TcpRing.bounds(n, M)}: every round slices the whole
 * optimiser state the driver holds, and the driver puts the returned chunks back together at any
 * boundaries, so re-cutting the shards for a new M costs nothing beyond the round's broadcast.
 * While a round runs, the driver watches the pool: when it falls below the round's M (an executor
 * was lost), the round's job is cancelled, its work thrown away (the model is untouched until a
 * round commits) and the round formed again from the survivors. An executor lost between the
 * round's forming and its job's submission (before {@link io.spindle.driver.ExecutorSlots} heard of
 * it) meets Spark's slot check instead, which a job group's cancel cannot stop, as the job is not
 * active yet: Spark gives up within about two seconds ({@link
 * io.spindle.driver.cluster.SparkContexts#BARRIER_CHECK_RETRIES}) and the round is formed again
 * just the same; should Spark keep refusing while the pool still counts the slots, the round gives
 * up after {@code cluster.executorWaitSeconds} ({@link ClusterCapacityException}). Executors added
 * while a round runs join the next round. Lossy compression keeps one error-feedback state per
 * worker, so config validation refuses it with a changing worker count ({@code cluster.minWorkers}
 * below {@code cluster.workers}); with fewer workers than shards the exact exchange runs as a ring
 * of shards.
 */
public final class CollectiveSync implements ParameterSync {
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Milliseconds between checks of the pool while a round runs. */
  static final int WATCH_MILLIS = 100;

  private final JavaSparkContext sc;
  private final BatchLayout layout;
  private final int roundSteps;
  private final CompressionSpec compression;
  private final boolean sharded;
  private final int timeoutMillis;
  private final boolean driverRendezvous;
  private RingTransport ringTransport = RingTransport.AUTO;
  private final WorkerPool pool;
  private final PrintStream console;
  private double bytesPerWorker;
  private double boundBytes;
  private long steps;
  private long computeNanos;
  private long collectiveNanos;
  private long codecNanos;
  private long progressNanos;
  private long progressSenderCpuNanos;
  private long progressSinkNanos;
  private long progressReaderCpuNanos;
  private double roundSeconds;
  private long modelBytes;
  private int progressEvery;
  private StepProgress.Sink progressSink;
  // the last global iteration handed to the sink in this round, over its abandoned attempts too
  private long reportedThrough;
  // the shards grouped for fewer workers than shards, while they serve rounds
  private JavaRDD<MiniBatch> grouped;
  private int groupedSource = -1;
  private ShardAssignment groupedFor;
  private int groupedFrom;
  // what the elastic rounds did, for the summary
  private int lastWorkers = -1;
  private final Map<Integer, Long> stepsByWorkers = new TreeMap<>();
  private final List<Map<String, Object>> changes = new ArrayList<>();
  // rounds not right after a change: their seconds and steps per worker count
  private final Map<Integer, Double> steadySeconds = new TreeMap<>();
  private final Map<Integer, Long> steadySteps = new TreeMap<>();
  private int roundsAbandoned;
  // rounds whose job Spark's slot check refused (a subset of the abandoned ones)
  private int roundsRefused;
  // set by attempt(): its job was refused by Spark's slot check
  private boolean refused;
  private double abandonedSeconds;
  private double regroupSeconds;
  // executor-resident state between rounds (StickyState): this engine's run id, and what the
  // committed rounds' tasks took from their executors or fetched from the driver, and returned
  private final String run = UUID.randomUUID().toString();
  private boolean executorState = true;
  private final List<Map<String, Object>> startTraffic = new ArrayList<>();
  private long startHits;

  /** What the workers' products computed in, as each worker's JVM found (committed rounds). */
  private final java.util.SortedSet<String> workerPrecisions = new java.util.TreeSet<>();

  private long startBuilt;
  private long startMisses;
  private long startBytesFetched;
  private long stateBytesReturned;
  static final int TRAFFIC_ROUNDS_KEPT = 64;
  // where the committed rounds' time went outside their steady steps; set by attempt(): its
  // preparation, its job's submission and results, the wait for a late progress record
  private final RoundTimes times = new RoundTimes();
  private long prepareNanos;
  private long submittedAtMillis;
  private long doneAtMillis;
  private long lateNanos;
  // taking the tasks' uploads from the round's server (counted with the commit)
  private long takeNanos;
  // the last committed round's values with the digests its server checked: the next round's start
  // reuses a digest where its value has exactly those bits (not digesting 15 MB again per round)
  private CommittedDigests committed = CommittedDigests.none();
  private long digestsReused;

  /**
   * A collective engine on a fixed {@code layout.workers()} workers (one per shard, no pool to
   * watch).
   *
   * @param layout how each step's global batch is cut into logical shards
   * @param roundSteps R, steps per barrier stage (0: the rest of the epoch)
   * @param compression how gradients travel each step ({@code cluster.compression})
   * @param sharded ZeRO-1: each worker updates 1/N of the parameters and optimiser state
   * @param timeoutMillis connect and read timeout between workers
   * @param driverRendezvous tasks find each other through a {@link Rendezvous} service on the
   *     driver (false: through {@code BarrierTaskContext.allGather}, a second slower per round)
   */
  public CollectiveSync(
      JavaSparkContext sc,
      BatchLayout layout,
      int roundSteps,
      CompressionSpec compression,
      boolean sharded,
      int timeoutMillis,
      boolean driverRendezvous) {
    this(
        sc,
        layout,
        roundSteps,
        compression,
        sharded,
        timeoutMillis,
        driverRendezvous,
        WorkerPool.fixed(layout.workers()),
        null);
  }

  /**
   * As above, each round on the workers {@code pool} offers at its start (at most {@code
   * layout.workers()}, the shards), reporting changes of the worker count on {@code console} (null:
   * not at all).
   */
  public CollectiveSync(
      JavaSparkContext sc,
      BatchLayout layout,
      int roundSteps,
      CompressionSpec compression,
      boolean sharded,
      int timeoutMillis,
      boolean driverRendezvous,
      WorkerPool pool,
      PrintStream console) {
    this.sc = sc;
    this.layout = layout;
    this.roundSteps = roundSteps;
    this.compression = compression;
    this.sharded = sharded;
    this.timeoutMillis = timeoutMillis;
    this.driverRendezvous = driverRendezvous;
    this.pool = pool;
    this.console = console;
  }

  /**
   * Whether round tasks may start from the state their executors kept (default true). False: every
   * round ships everything from the driver, as a cold executor would fetch it (tests: the result
   * must not depend on it).
   */
  public CollectiveSync executorState(boolean use) {
    this.executorState = use;
    return this;
  }

  /**
   * How ring neighbours in the same JVM exchange values ({@code cluster.ringTransport}, default
   * {@code auto}: in memory; {@code tcp}: sockets). The results do not depend on it.
   */
  public CollectiveSync ringTransport(RingTransport transport) {
    this.ringTransport = java.util.Objects.requireNonNull(transport, "ringTransport");
    return this;
  }

  @Override
  public String name() {
    return SyncMode.COLLECTIVE.configName();
  }

  /**
   * The engine's own counters, per step: bytes each worker sent to its ring neighbour (next to the
   * all-reduce lower bound 2(M-1)/M x model bytes), seconds computing (forward, backward,
   * optimiser), in the ring, compressing (outside the ring), and wall seconds with the barrier
   * stage's set-up and commit; and what the elastic rounds did: steps run with each worker count,
   * each change of the count (global step, from, to, seconds of abandoned rounds before it, seconds
   * regrouping the shards, its first round's steps and seconds, and the seconds it lost in all: see
   * {@link #changesWithLoss}), rounds abandoned because a worker was lost and their seconds,
   * seconds regrouping shards in all.
   */
  @Override
  public Map<String, Object> facts() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("compression", compression.toString());
    out.put("optimizer_sharded", sharded);
    if (steps > 0) {
      out.put("bytes_sent_per_worker_per_step", bytesPerWorker / steps);
      out.put("allreduce_bound_bytes", boundBytes / steps);
      out.put("compute_seconds_per_step", computeNanos / 1e9 / steps);
      out.put("collective_seconds_per_step", collectiveNanos / 1e9 / steps);
      out.put("codec_seconds_per_step", codecNanos / 1e9 / steps);
      out.put("wall_seconds_per_step", roundSeconds / steps);
      // step records' cost on the tasks' training threads (mean over ranks) and on the driver
      // (the sink: console, metrics.jsonl, gauges), against the round wall time
      out.put("progress_seconds_per_step", progressNanos / 1e9 / steps);
      out.put("progress_sender_cpu_seconds_per_step", progressSenderCpuNanos / 1e9 / steps);
      out.put("progress_driver_seconds_per_step", progressSinkNanos / 1e9 / steps);
      out.put("progress_reader_cpu_seconds_per_step", progressReaderCpuNanos / 1e9 / steps);
      // an upper bound on the step records' share of the run: as if all of it (training thread,
      // each rank's sender, the driver's sink and readers) stood on the rounds' critical path
      long all =
          progressNanos + progressSenderCpuNanos + progressSinkNanos + progressReaderCpuNanos;
      out.put("progress_share_of_wall", roundSeconds > 0 ? all / 1e9 / roundSeconds : 0.0);
      Map<String, Long> byWorkers = new LinkedHashMap<>();
      stepsByWorkers.forEach((m, n) -> byWorkers.put(Integer.toString(m), n));
      out.put("steps_by_workers", byWorkers);
      out.put("worker_changes", changesWithLoss());
      out.put("rounds_abandoned", roundsAbandoned);
      out.put("rounds_refused_by_slot_check", roundsRefused);
      out.put("abandoned_round_seconds", abandonedSeconds);
      out.put("shard_regroup_seconds", regroupSeconds);
      out.put("round_start_executor_hits", startHits);
      out.put("round_start_executor_built", startBuilt);
      out.put("round_start_driver_fetches", startMisses);
      out.put("round_start_bytes_fetched", startBytesFetched);
      out.put("round_state_bytes_returned", stateBytesReturned);
      // start values whose digest was the committed one, reused (their bits compared) not computed
      out.put("round_start_digests_reused", digestsReused);
      // how the round's state travels: raw through the round's server, or Spark's serialiser
      out.put("round_state_transport", driverRendezvous ? "rendezvous" : "spark");
      out.put("round_start_traffic", startTraffic); // the first TRAFFIC_ROUNDS_KEPT rounds
      times.facts(out);
      // the workers' own verdicts (compute_precision is the driver JVM's): on a cluster a bf16
      // model computes in bf16 only on executors whose CPU makes it pay
      if (!workerPrecisions.isEmpty()) {
        out.put("worker_compute_precision", String.join(",", workerPrecisions));
      }
    }
    return out;
  }

  /**
   * Opens a {@link ProgressService} for every round: each task sends its counters every {@code
   * every} global steps, and while the round's job runs this thread hands the merged intervals to
   * {@code sink}.
   */
  @Override
  public void reportProgress(int every, StepProgress.Sink sink) {
    this.progressEvery = every;
    this.progressSink = sink;
  }

  @Override
  public RoundResult round(
      JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model) {
    long start = System.nanoTime();
    int steps = roundSteps > 0 ? Math.min(roundSteps, maxSteps) : maxSteps;
    double lost = 0;
    reportedThrough = iteration - 1;
    long refusedSince = -1;
    while (true) {
      long formed = System.nanoTime();
      int m = Math.min(layout.workers(), pool.await());
      ShardAssignment shards = new ShardAssignment(layout.workers(), m);
      long t0 = System.nanoTime();
      JavaRDD<MiniBatch> input = inputFor(batches, shards, step);
      double regroup = (System.nanoTime() - t0) / 1e9;
      regroupSeconds += regroup;
      boolean changed = noteWorkers(m, iteration, lost, regroup);
      long attemptStart = System.nanoTime();
      List<CollectiveResult> results = attempt(input, shards, step, steps, iteration, model);
      if (results == null) {
        roundsAbandoned++;
        double seconds = (System.nanoTime() - formed) / 1e9;
        abandonedSeconds += seconds;
        lost += seconds;
        if (refused) {
          roundsRefused++;
        }
        if (refused && pool.available() >= m) {
          // Spark counts fewer slots than the pool: a loss the listener has not heard of yet
          refusedSince = refusedSince < 0 ? formed : refusedSince;
          double refusing = (System.nanoTime() - refusedSince) / 1e9;
          if (refusing > pool.waitSeconds()) {
            throw new ClusterCapacityException(refusedTooLong(m, refusing));
          }
          say(
              "spindle: Spark found fewer task slots than the round's %d workers at global step"
                  + " %d (executors: %s); the round is formed again%n",
              m, iteration, pool.describe());
          continue;
        }
        refusedSince = -1;
        say(
            "spindle: a worker was lost during the round at global step %d (%d of %d workers"
                + " left: executors %s); its %.1f s of work are thrown away and the round formed"
                + " again%n",
            iteration, pool.available(), m, pool.describe(), seconds);
        continue;
      }
      long commitStart = System.nanoTime();
      commit(results, model);
      digestsReused += committed.reused();
      committed = CommittedDigests.of(results);
      long commitNanos = System.nanoTime() - commitStart + takeNanos;
      if (step + steps >= layout.stepsPerEpoch()) {
        dropGrouped(); // the epoch's last round: its grouped shards serve no other
      }
      this.steps += steps;
      stepsByWorkers.merge(m, (long) steps, Long::sum);
      double attemptSeconds = (System.nanoTime() - attemptStart) / 1e9;
      if (changed) {
        Map<String, Object> change = changes.get(changes.size() - 1);
        change.put("first_round_steps", steps);
        change.put("first_round_seconds", attemptSeconds);
      } else {
        steadySeconds.merge(m, attemptSeconds, Double::sum);
        steadySteps.merge(m, (long) steps, Long::sum);
      }
      modelBytes = 4L * model.params().length();
      boundBytes += steps * 2.0 * (m - 1) / m * modelBytes;
      double lossSum = 0;
      long examples = 0;
      long correct = 0;
      noteStartTraffic(results, iteration, m);
      for (CollectiveResult r : results) {
        lossSum += r.lossSum();
        examples += r.examples();
        correct += r.correct();
        bytesPerWorker += (double) r.bytesSent() / m;
        computeNanos += r.computeNanos() / results.size();
        collectiveNanos += r.collectiveNanos() / results.size();
        codecNanos += r.codecNanos() / results.size();
        progressNanos += r.progressNanos() / results.size();
        progressSenderCpuNanos += r.progressSenderCpuNanos() / results.size();
      }
      roundSeconds += (System.nanoTime() - start) / 1e9;
      times.add(
          iteration,
          results,
          prepareNanos + (attemptStart - formed),
          submittedAtMillis,
          doneAtMillis,
          lateNanos,
          commitNanos,
          (System.nanoTime() - start) / 1e9);
      return new RoundResult(
          steps, examples, correct, lossSum / examples, (System.nanoTime() - start) / 1e9);
    }
  }

  private String refusedTooLong(int m, double seconds) {
    return String.format(
        Locale.ROOT,
        "cluster.sync collective needs %d task slots at once for a round, and the executors Spark"
            + " announced offer them (executors: %s), but Spark's barrier slot check refused the"
            + " round's job for %.0f s (cluster.executorWaitSeconds is %d): Spark counts fewer"
            + " usable slots than its executors announce (spark.task.cpus, task resources,"
            + " executors being decommissioned?). The newest checkpoint is the run's valid state",
        m,
        pool.describe(),
        seconds,
        pool.waitSeconds());
  }

  /**
   * One attempt at a round on {@code shards.workers()} workers: the round's results, or null when
   * the pool fell below that count while it ran (its job is then cancelled) or Spark's slot check
   * refused its job ({@link #refused} then set).
   */
  private List<CollectiveResult> attempt(
      JavaRDD<MiniBatch> input,
      ShardAssignment shards,
      int step,
      int steps,
      long iteration,
      GlobalModel model) {
    long prepareStart = System.nanoTime();
    takeNanos = 0;
    int m = shards.workers();
    refused = false;
    byte[] secret = new byte[32];
    RANDOM.nextBytes(secret);
    Rendezvous rendezvous =
        driverRendezvous
            ? Rendezvous.start(sc.getConf().get("spark.driver.host", "127.0.0.1"))
            : null;
    if (rendezvous != null) {
      rendezvous.open(iteration, secret);
    }
    CollectiveSpec spec =
        new CollectiveSpec(
            model.spec(),
            compression,
            sharded,
            layout,
            iteration,
            secret,
            timeoutMillis,
            rendezvous == null ? null : rendezvous.endpoint(),
            shards,
            ringTransport);
    ProgressService progress =
        progressSink == null
            ? null
            : ProgressService.start(
                sc.getConf().get("spark.driver.host", "127.0.0.1"), iteration, secret, m);
    // The committed state, each value named by the SHA-256 of its bits: a task takes it from its
    // executor when that holds those bits (StickyState), else fetches it from the rendezvous
    // server by its digest (raw bits, nothing made unless asked), or without that server from
    // broadcasts (the parameters in one for every rank, a replicated optimiser's state too; a
    // sharded one's chunks and the exchange states one per rank).
    List<Broadcast<?>> broadcasts = new ArrayList<>();
    RoundStart start = roundStart(spec, model, m, iteration, rendezvous, broadcasts);
    String group = "spindle-collective-" + UUID.randomUUID();
    String previous = sc.getLocalProperty("spark.job.description");
    // no thread interrupt on cancel: KillWatch sees the kill flag and closes the ring's sockets
    sc.setJobGroup(
        group,
        (previous != null && previous.startsWith("spindle epoch")
                ? previous.replaceFirst(" step \\d+/\\d+$", "") + ": "
                : "")
            + "collective round: steps "
            + step
            + ".."
            + (step + steps - 1)
            + " (global "
            + iteration
            + ".."
            + (iteration + steps - 1)
            + ") on "
            + m
            + " workers",
        false);
    AtomicBoolean lost = new AtomicBoolean();
    Thread watch =
        new Thread(
            () -> {
              try {
                while (!Thread.currentThread().isInterrupted()) {
                  if (pool.available() < m) {
                    lost.set(true);
                    // stops the job once Spark has made it active; a job still in Spark's slot
                    // check is not, and fails there within seconds (SparkContexts)
                    sc.cancelJobGroup(group);
                    return;
                  }
                  Thread.sleep(WATCH_MILLIS);
                }
              } catch (InterruptedException e) {
                // the round ended
              }
            },
            "spindle-round-watch");
    watch.setDaemon(true);
    watch.start();
    try {
      BarrierRound task =
          new BarrierRound(
              spec,
              start,
              step,
              steps,
              iteration,
              progress == null ? null : progress.target(progressEvery));
      // The results pass through a one-partition shuffle: that makes the barrier stage a map
      // stage, which Spark relaunches whole when a task fails (a failed barrier result stage
      // would abort the job instead). With the rendezvous they are a few hundred bytes each.
      scala.reflect.ClassTag<CollectiveResult> tag =
          scala.reflect.ClassTag$.MODULE$.apply(CollectiveResult.class);
      try {
        if (lost.get() || pool.available() < m) {
          return null; // lost while the round was formed: Spark's slot check would refuse it
        }
        prepareNanos = System.nanoTime() - prepareStart;
        submittedAtMillis = System.currentTimeMillis();
        JavaFutureAction<List<CollectiveResult>> job =
            JavaRDD.fromRDD(input.rdd().barrier().mapPartitions(task, false, tag), tag)
                .repartition(1)
                .collectAsync();
        List<CollectiveResult> results = awaitReporting(job, progress, iteration + steps - 1);
        long takeStart = System.nanoTime();
        // the tasks' uploads, taken while the round's server still holds them
        results = rendezvous == null ? results : rendezvous.withUploads(results, iteration);
        takeNanos = System.nanoTime() - takeStart;
        return results;
      } catch (Exception e) {
        refused = refusedBySlotCheck(e);
        if (refused || lost.get() || pool.available() < m) {
          return null; // a worker was lost: the round is formed again from the survivors
        }
        throw e;
      }
    } finally {
      watch.interrupt();
      joinQuietly(watch);
      sc.clearJobGroup();
      sc.setJobDescription(previous);
      broadcasts.forEach(Broadcast::destroy);
      if (rendezvous != null) {
        rendezvous.close();
      }
      if (progress != null) {
        progress.close();
        progressReaderCpuNanos += progress.readerCpuNanos();
      }
    }
  }

  /**
   * Whether {@code e} (or a cause) is Spark's refusal of a barrier job for want of slots ({@code
   * BarrierJobSlotsNumberCheckFailed}, internal to Spark, known here by its name).
   */
  static boolean refusedBySlotCheck(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t.getClass().getName().equals(SLOT_CHECK_FAILURE)) {
        return true;
      }
    }
    return false;
  }

  static final String SLOT_CHECK_FAILURE =
      "org.apache.spark.scheduler.BarrierJobSlotsNumberCheckFailed";

  /**
   * The round's start: the committed parameters, each rank's optimiser state (whole, or its ZeRO-1
   * chunk at this round's bounds) and exchange state, each with the SHA-256 of its bits. With the
   * round's {@code server}, each value is offered there by its digest (nothing is serialised: a
   * task that misses a value fetches its raw bits); without, each goes into a broadcast (added to
   * {@code broadcasts}, destroyed after the round).
   */
  private RoundStart roundStart(
      CollectiveSpec spec,
      GlobalModel model,
      int m,
      long iteration,
      Rendezvous server,
      List<Broadcast<?>> broadcasts) {
    int n = (int) model.params().length();
    FlatVector params = FlatVector.copyOf(model.params());
    String paramsDigest = committed.digest(StickyState.Kind.PARAMS, params);
    Broadcast<FlatVector> paramsCast = null;
    if (server != null) {
      server.offer(iteration, StickyState.Kind.PARAMS, paramsDigest, params);
    } else {
      paramsCast = sc.broadcast(params);
      broadcasts.add(paramsCast);
    }
    float[] full = stateOf(model);
    int[] bounds = CollectiveTrainer.ringBounds(spec, n);
    int[] from = new int[m];
    int[] to = new int[m];
    String[] stateDigests = new String[m];
    int[] stateLengths = new int[m];
    List<Broadcast<FlatVector>> states = server != null ? null : new ArrayList<>();
    for (int r = 0; r < m; r++) {
      from[r] = sharded ? bounds[r] : 0;
      to[r] = sharded ? bounds[r + 1] : n;
      if (sharded || r == 0) {
        FlatVector chunk =
            FlatVector.of(sharded ? FlatOptimizer.sliceState(full, n, from[r], to[r]) : full);
        stateDigests[r] = committed.digest(StickyState.Kind.OPTIMIZER, chunk);
        stateLengths[r] = chunk.length();
        if (server != null) {
          server.offer(iteration, StickyState.Kind.OPTIMIZER, stateDigests[r], chunk);
        } else {
          Broadcast<FlatVector> cast = sc.broadcast(chunk);
          broadcasts.add(cast);
          states.add(cast);
        }
      } else {
        stateDigests[r] = stateDigests[0];
        stateLengths[r] = stateLengths[0];
        if (states != null) {
          states.add(states.get(0));
        }
      }
    }
    byte[][] exchanges = exchangeStatesFor(model, m);
    String[] exchangeDigests = null;
    List<Broadcast<byte[]>> exchange = null;
    if (exchanges != null) {
      exchangeDigests = new String[m];
      exchange = server != null ? null : new ArrayList<>();
      for (int r = 0; r < m; r++) {
        exchangeDigests[r] = this.committed.digest(StickyState.Kind.EXCHANGE, exchanges[r]);
        if (server != null) {
          server.offer(iteration, StickyState.Kind.EXCHANGE, exchangeDigests[r], exchanges[r]);
        } else {
          Broadcast<byte[]> cast = sc.broadcast(exchanges[r]);
          broadcasts.add(cast);
          exchange.add(cast);
        }
      }
    }
    return new RoundStart(
        executorState ? run : UUID.randomUUID().toString(),
        iteration,
        n,
        executorState,
        paramsDigest,
        paramsCast,
        from,
        to,
        stateLengths,
        stateDigests,
        states,
        exchangeDigests,
        exchange,
        server == null
            ? null
            : new RoundStart.Driver(
                spec.rendezvous(), iteration, spec.secret(), spec.timeoutMillis()));
  }

  /**
   * Waits for the round's job, handing the progress that arrives meanwhile to the sink on this
   * thread (then, unless the round's last step was reported already, what is still in flight, for
   * at most 500 ms); rethrows the job's failure as it is.
   */
  private List<CollectiveResult> awaitReporting(
      JavaFutureAction<List<CollectiveResult>> job, ProgressService progress, long lastIteration) {
    try {
      long seen = -1;
      if (progress != null) {
        // the job's end wakes this thread at once (no short poll: a 5 ms timer cost the driver
        // 200 wake-ups a second, 0.1-0.4 ms of CPU per step taken from the workers' two cores,
        // docs/steady-step.md; a 50 ms one up to 50 ms of wall time per round)
        Thread waiter =
            new Thread(
                () -> {
                  try {
                    job.get();
                  } catch (Exception e) {
                    // failed or cancelled: the loop below sees it done and job.get() rethrows
                  }
                  progress.wake();
                },
                "spindle-round-end-waiter");
        waiter.setDaemon(true);
        waiter.start();
        while (!job.isDone()) {
          ProgressService.Interval i = progress.poll(1_000);
          if (i != null) {
            seen = Math.max(seen, i.iteration());
            report(i);
          }
        }
      }
      List<CollectiveResult> results = job.get();
      doneAtMillis = System.currentTimeMillis();
      lateNanos = 0;
      if (progress != null && seen < lastIteration) {
        long waitStart = System.nanoTime();
        // the tasks sent their round's last frame before returning; give the reader threads a
        // moment to file it (and any frame still in flight) so that no record falls to onRound
        long deadline = System.nanoTime() + 500_000_000L;
        while (true) {
          long left = (deadline - System.nanoTime()) / 1_000_000;
          if (left <= 0) {
            break;
          }
          ProgressService.Interval i = progress.poll(left);
          if (i == null) {
            continue; // the round-end waiter's wake-up, or the deadline
          }
          report(i);
          if (i.iteration() >= lastIteration) {
            break;
          }
        }
        // the driver's wait for a late last record is the step records' cost too
        lateNanos = System.nanoTime() - waitStart;
        progressSinkNanos += lateNanos;
      }
      return results;
    } catch (InterruptedException e) {
      job.cancel(true);
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while a collective round ran", e);
    } catch (ExecutionException e) {
      throw CollectiveSync.<RuntimeException>rethrow(e.getCause());
    } catch (RuntimeException e) {
      job.cancel(true);
      throw e;
    }
  }

  /**
   * Hands {@code i} to the sink unless an abandoned attempt of the round already reported its steps
   * (a round formed again from the survivors redoes them; they are reported once).
   */
  private void report(ProgressService.Interval i) {
    if (i.iteration() > reportedThrough) {
      reportedThrough = i.iteration();
      long t0 = System.nanoTime();
      progressSink.accept(toStep(i));
      progressSinkNanos += System.nanoTime() - t0;
    }
  }

  private static StepProgress toStep(ProgressService.Interval i) {
    return new StepProgress(
        i.iteration() + 1,
        i.stepInEpoch(),
        i.steps(),
        i.examples(),
        i.correct(),
        i.lossSum(),
        i.seconds());
  }

  /** Rethrows the job's own failure (a SparkException, as {@code collect()} would throw it). */
  @SuppressWarnings("unchecked")
  private static <T extends Throwable> T rethrow(Throwable t) throws T {
    throw (T) t;
  }

  /** The round's input: the epoch's shards, or for fewer workers the shards grouped for them. */
  private JavaRDD<MiniBatch> inputFor(
      JavaRDD<MiniBatch> batches, ShardAssignment shards, int step) {
    if (shards.isIdentity()) {
      dropGrouped();
      return batches;
    }
    if (grouped != null
        && groupedSource == batches.id()
        && groupedFor.equals(shards)
        && step >= groupedFrom) {
      return grouped;
    }
    dropGrouped();
    String description = sc.getLocalProperty("spark.job.description");
    sc.setJobDescription(
        "spindle: group " + shards.shards() + " shards for " + shards.workers() + " workers");
    grouped = WorkerShards.of(batches, shards, step);
    sc.setJobDescription(description);
    groupedSource = batches.id();
    groupedFor = shards;
    groupedFrom = step;
    return grouped;
  }

  private void dropGrouped() {
    if (grouped != null) {
      grouped.unpersist(false);
      grouped = null;
      groupedFor = null;
      groupedSource = -1;
    }
  }

  /**
   * Per committed round: values its tasks took from their executors (hits) or fetched from the
   * driver (misses), the bytes fetched, and the bytes of state each rank returned.
   */
  private void noteStartTraffic(List<CollectiveResult> results, long iteration, int m) {
    int hits = 0;
    int built = 0;
    int misses = 0;
    long fetched = 0;
    long[] returned = new long[m];
    for (CollectiveResult r : results) {
      hits += r.startHits();
      built += r.startBuilt();
      misses += r.startMisses();
      fetched += r.startBytesFetched();
      returned[r.rank()] = r.stateBytes();
      if (r.computePrecision() != null) {
        workerPrecisions.add(r.computePrecision());
      }
    }
    Map<String, Object> round = new LinkedHashMap<>();
    round.put("global_step", iteration);
    round.put("workers", m);
    round.put("executor_hits", hits);
    round.put("executor_built", built);
    round.put("driver_fetches", misses);
    round.put("bytes_fetched", fetched);
    List<Long> byRank = new ArrayList<>();
    for (long b : returned) {
      byRank.add(b);
    }
    round.put("bytes_returned_by_rank", byRank);
    startHits += hits;
    startBuilt += built;
    startMisses += misses;
    startBytesFetched += fetched;
    for (long b : returned) {
      stateBytesReturned += b;
    }
    if (startTraffic.size() < TRAFFIC_ROUNDS_KEPT) {
      startTraffic.add(round);
    }
  }

  /**
   * Records (and reports) a change of the worker count at global step {@code iteration}; true when
   * the count changed from an earlier round's.
   */
  private boolean noteWorkers(int m, long iteration, double abandoned, double regroup) {
    if (m == lastWorkers) {
      return false;
    }
    boolean changed = lastWorkers > 0;
    if (lastWorkers > 0) {
      Map<String, Object> change = new LinkedHashMap<>();
      change.put("global_step", iteration);
      change.put("from", lastWorkers);
      change.put("to", m);
      change.put("abandoned_seconds", abandoned);
      change.put("regroup_seconds", regroup);
      changes.add(change);
      say(
          "spindle: %d of at most %d workers from global step %d (executors: %s); shards"
              + " regrouped in %.2f s%n",
          m, pool.most(), iteration, pool.describe(), regroup);
    }
    lastWorkers = m;
    return changed;
  }

  /**
   * The changes of the worker count, each with its {@code lost_seconds}: the rounds abandoned
   * before it, the shards' regrouping, and how much longer its first round took than the same steps
   * take in later rounds on as many workers (the lost executor's data recomputed, a new executor's
   * first network, ...); null where no later round on as many workers ran.
   */
  private List<Map<String, Object>> changesWithLoss() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Map<String, Object> c : changes) {
      Map<String, Object> e = new LinkedHashMap<>(c);
      int to = (Integer) c.get("to");
      Long steadyN = steadySteps.get(to);
      Object first = c.get("first_round_seconds");
      if (steadyN != null && steadyN > 0 && first != null) {
        double perStep = steadySeconds.get(to) / steadyN;
        double slower = (Double) first - (Integer) c.get("first_round_steps") * perStep;
        e.put("steady_seconds_per_step", perStep);
        e.put(
            "lost_seconds",
            (Double) c.get("abandoned_seconds")
                + (Double) c.get("regroup_seconds")
                + Math.max(0, slower));
      } else {
        e.put("lost_seconds", null);
      }
      out.add(e);
    }
    return out;
  }

  private void say(String format, Object... args) {
    if (console != null) {
      console.printf(Locale.ROOT, format, args);
    }
  }

  private static void joinQuietly(Thread t) {
    try {
      t.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The function each barrier task runs: one round of {@link CollectiveTrainer}. */
  private static final class BarrierRound
      extends scala.runtime.AbstractFunction1<
          scala.collection.Iterator<MiniBatch>, scala.collection.Iterator<CollectiveResult>>
      implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final CollectiveSpec spec;
    private final RoundStart start;
    private final int step;
    private final int steps;
    private final long iteration;
    private final ProgressTarget progress;

    BarrierRound(
        CollectiveSpec spec,
        RoundStart start,
        int step,
        int steps,
        long iteration,
        ProgressTarget progress) {
      this.progress = progress;
      this.spec = spec;
      this.start = start;
      this.step = step;
      this.steps = steps;
      this.iteration = iteration;
    }

    @Override
    public scala.collection.Iterator<CollectiveResult> apply(
        scala.collection.Iterator<MiniBatch> partition) {
      CollectiveResult result =
          CollectiveTrainer.run(
              spec,
              start,
              scala.collection.JavaConverters.asJavaIterator(partition),
              step,
              steps,
              iteration,
              progress);
      return scala.collection.JavaConverters.asScalaIterator(
          Collections.singletonList(result).iterator());
    }
  }

  /** A copy of the model's optimiser state (one copy: no vector made first). */
  private static float[] stateOf(GlobalModel model) {
    INDArray s = model.globalStep().state();
    float[] out = new float[(int) s.length()];
    if (out.length > 0) {
      FlatVector.copyOut(s, out, 0);
    }
    return out;
  }

  /**
   * The committed exchange state of every rank of a ring of {@code workers}, or null to start
   * fresh. A state of another scheme is refused; one of another worker count is regrouped ({@link
   * ExchangeState#forWorkers}: the residuals' sum goes to the new rank 0).
   */
  private byte[][] exchangeStatesFor(GlobalModel model, int workers) {
    ExchangeState committed = model.exchangeState();
    if (!compression.scheme().lossy()) {
      if (committed != null) {
        throw new IllegalStateException(
            "compression none keeps no exchange state, but the model holds " + committed);
      }
      return null;
    }
    if (committed == null) {
      return null;
    }
    if (!committed.scheme().equals(compression.toString())) {
      throw new IllegalStateException(
          "the model's exchange state is of "
              + committed.scheme()
              + ", this run exchanges gradients with "
              + compression);
    }
    return committed.forWorkers(workers).perWorker();
  }

  /**
   * Takes rank 0's parameters, puts the optimiser state back together from the shards and keeps
   * every rank's exchange state.
   */
  private void commit(List<CollectiveResult> results, GlobalModel model) {
    INDArray w = model.params();
    int n = (int) w.length();
    long stateLength = model.globalStep().stateLength();
    float[] full = new float[(int) stateLength];
    for (CollectiveResult r : results) {
      if (r.rank() == 0) {
        r.params().copyTo(w);
      }
      if (r.state() != null && stateLength > 0) {
        FlatOptimizer.placeState(r.state().toFloatArray(), full, n, r.stateFrom(), r.stateTo());
      }
    }
    if (stateLength > 0) {
      // FlatVector's bulk copy into a new array: about half of Nd4j.createFromArray's time (7.5
      // against 13 ms for Adam's 10 MB here)
      model.globalStep().setState(FlatVector.of(full).toINDArray());
    }
    if (compression.scheme().lossy()) {
      CompressionState[] byRank = new CompressionState[results.size()];
      for (CollectiveResult r : results) {
        byRank[r.rank()] =
            CompressionState.fromBytes(r.exchangeState(), "the exchange state of rank " + r.rank());
      }
      model.setExchangeState(
          new ExchangeState(compression.toString(), new ArrayList<>(List.of(byRank))));
    }
  }
}
