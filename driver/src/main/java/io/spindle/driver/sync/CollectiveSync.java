package io.spindle.driver.sync;

import io.spindle.config.SyncMode;
import io.spindle.config.WireFormat;
import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.data.ShardAssignment;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.ParameterSync;
import io.spindle.driver.RoundResult;
import io.spindle.driver.WorkerPool;
import io.spindle.driver.data.WorkerShards;
import io.spindle.optim.FlatOptimizer;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.collective.CollectiveResult;
import io.spindle.worker.collective.CollectiveSpec;
import io.spindle.worker.collective.CollectiveTrainer;
import io.spindle.worker.collective.Rendezvous;
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
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Synchronous gradient sharing through the collective engine: one Spark barrier stage per round of
 * up to R steps, inside which the workers all-reduce gradients directly with each other over TCP
 * every step and apply the global step themselves (see {@link CollectiveTrainer} for the protocol).
 * The driver only broadcasts the starting state and commits the end state of each round, so a
 * relaunched stage redoes the round from the last committed state: no step is lost or applied
 * twice.
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
 * round commits) and the round formed again from the survivors. Executors added while a round runs
 * join the next round.
 */
public final class CollectiveSync implements ParameterSync {
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Milliseconds between checks of the pool while a round runs. */
  static final int WATCH_MILLIS = 100;

  private final JavaSparkContext sc;
  private final BatchLayout layout;
  private final int roundSteps;
  private final WireFormat wire;
  private final boolean sharded;
  private final int timeoutMillis;
  private final boolean driverRendezvous;
  private final WorkerPool pool;
  private final PrintStream console;
  private double bytesPerWorker;
  private double boundBytes;
  private long steps;
  private long computeNanos;
  private long collectiveNanos;
  private double roundSeconds;
  private long modelBytes;
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
  private double abandonedSeconds;
  private double regroupSeconds;

  /**
   * A collective engine on a fixed {@code layout.workers()} workers (one per shard, no pool to
   * watch).
   *
   * @param layout how each step's global batch is cut into logical shards
   * @param roundSteps R, steps per barrier stage (0: the rest of the epoch)
   * @param wire fp32 or bf16 on the wire
   * @param sharded ZeRO-1: each worker updates 1/N of the parameters and optimiser state
   * @param timeoutMillis connect and read timeout between workers
   * @param driverRendezvous tasks find each other through a {@link Rendezvous} service on the
   *     driver (false: through {@code BarrierTaskContext.allGather}, a second slower per round)
   */
  public CollectiveSync(
      JavaSparkContext sc,
      BatchLayout layout,
      int roundSteps,
      WireFormat wire,
      boolean sharded,
      int timeoutMillis,
      boolean driverRendezvous) {
    this(
        sc,
        layout,
        roundSteps,
        wire,
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
      WireFormat wire,
      boolean sharded,
      int timeoutMillis,
      boolean driverRendezvous,
      WorkerPool pool,
      PrintStream console) {
    this.sc = sc;
    this.layout = layout;
    this.roundSteps = roundSteps;
    this.wire = wire;
    this.sharded = sharded;
    this.timeoutMillis = timeoutMillis;
    this.driverRendezvous = driverRendezvous;
    this.pool = pool;
    this.console = console;
  }

  @Override
  public String name() {
    return SyncMode.COLLECTIVE.configName();
  }

  /**
   * The engine's own counters, per step: bytes each worker sent to its ring neighbour (next to the
   * all-reduce lower bound 2(M-1)/M x model bytes), seconds computing (forward, backward,
   * optimiser), in the ring, and wall seconds with the barrier stage's set-up and commit; and what
   * the elastic rounds did: steps run with each worker count, each change of the count (global
   * step, from, to, seconds of abandoned rounds before it, seconds regrouping the shards, its first
   * round's steps and seconds, and the seconds it lost in all: see {@link #changesWithLoss}),
   * rounds abandoned because a worker was lost and their seconds, seconds regrouping shards in all.
   */
  @Override
  public Map<String, Object> facts() {
    Map<String, Object> out = new LinkedHashMap<>();
    if (steps > 0) {
      out.put("bytes_sent_per_worker_per_step", bytesPerWorker / steps);
      out.put("allreduce_bound_bytes", boundBytes / steps);
      out.put("compute_seconds_per_step", computeNanos / 1e9 / steps);
      out.put("collective_seconds_per_step", collectiveNanos / 1e9 / steps);
      out.put("wall_seconds_per_step", roundSeconds / steps);
      Map<String, Long> byWorkers = new LinkedHashMap<>();
      stepsByWorkers.forEach((m, n) -> byWorkers.put(Integer.toString(m), n));
      out.put("steps_by_workers", byWorkers);
      out.put("worker_changes", changesWithLoss());
      out.put("rounds_abandoned", roundsAbandoned);
      out.put("abandoned_round_seconds", abandonedSeconds);
      out.put("shard_regroup_seconds", regroupSeconds);
    }
    return out;
  }

  @Override
  public RoundResult round(
      JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model) {
    long start = System.nanoTime();
    int steps = roundSteps > 0 ? Math.min(roundSteps, maxSteps) : maxSteps;
    double lost = 0;
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
        say(
            "spindle: a worker was lost during the round at global step %d (%d of %d workers"
                + " left: executors %s); its %.1f s of work are thrown away and the round formed"
                + " again%n",
            iteration, pool.available(), m, pool.describe(), seconds);
        continue;
      }
      commit(results, model);
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
      for (CollectiveResult r : results) {
        lossSum += r.lossSum();
        examples += r.examples();
        correct += r.correct();
        bytesPerWorker += (double) r.bytesSent() / m;
        computeNanos += r.computeNanos() / results.size();
        collectiveNanos += r.collectiveNanos() / results.size();
      }
      roundSeconds += (System.nanoTime() - start) / 1e9;
      return new RoundResult(
          steps, examples, correct, lossSum / examples, (System.nanoTime() - start) / 1e9);
    }
  }

  /**
   * One attempt at a round on {@code shards.workers()} workers: the round's results, or null when
   * the pool fell below that count while it ran (its job is then cancelled).
   */
  private List<CollectiveResult> attempt(
      JavaRDD<MiniBatch> input,
      ShardAssignment shards,
      int step,
      int steps,
      long iteration,
      GlobalModel model) {
    int m = shards.workers();
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
            wire,
            sharded,
            layout,
            iteration,
            secret,
            timeoutMillis,
            rendezvous == null ? null : rendezvous.endpoint(),
            shards);
    Broadcast<FlatVector> params = sc.broadcast(FlatVector.copyOf(model.params()));
    Broadcast<FlatVector> state = sc.broadcast(stateOf(model));
    String group = "spindle-collective-" + UUID.randomUUID();
    // no thread interrupt on cancel: KillWatch sees the kill flag and closes the ring's sockets
    sc.setJobGroup(
        group,
        "collective round: steps "
            + step
            + ".."
            + (step + steps - 1)
            + " (global "
            + iteration
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
      BarrierRound task = new BarrierRound(spec, params, state, step, steps, iteration);
      // The results pass through a one-partition shuffle: that makes the barrier stage a map
      // stage, which Spark relaunches whole when a task fails (a failed barrier result stage
      // would abort the job instead).
      scala.reflect.ClassTag<CollectiveResult> tag =
          scala.reflect.ClassTag$.MODULE$.apply(CollectiveResult.class);
      try {
        return JavaRDD.fromRDD(input.rdd().barrier().mapPartitions(task, false, tag), tag)
            .repartition(1)
            .collect();
      } catch (Exception e) {
        if (lost.get() || pool.available() < m) {
          return null; // a worker was lost: the round is formed again from the survivors
        }
        throw e;
      }
    } finally {
      watch.interrupt();
      joinQuietly(watch);
      sc.clearJobGroup();
      params.destroy();
      state.destroy();
      if (rendezvous != null) {
        rendezvous.close();
      }
    }
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
    private final Broadcast<FlatVector> params;
    private final Broadcast<FlatVector> state;
    private final int step;
    private final int steps;
    private final long iteration;

    BarrierRound(
        CollectiveSpec spec,
        Broadcast<FlatVector> params,
        Broadcast<FlatVector> state,
        int step,
        int steps,
        long iteration) {
      this.spec = spec;
      this.params = params;
      this.state = state;
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
              params.value(),
              state.value(),
              scala.collection.JavaConverters.asJavaIterator(partition),
              step,
              steps,
              iteration);
      return scala.collection.JavaConverters.asScalaIterator(
          Collections.singletonList(result).iterator());
    }
  }

  private static FlatVector stateOf(GlobalModel model) {
    INDArray s = model.globalStep().state();
    return s.length() == 0 ? FlatVector.of(new float[0]) : FlatVector.copyOf(s);
  }

  /** Takes rank 0's parameters and puts the optimiser state back together from the shards. */
  private static void commit(List<CollectiveResult> results, GlobalModel model) {
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
      model.globalStep().setState(Nd4j.createFromArray(full));
    }
  }
}
