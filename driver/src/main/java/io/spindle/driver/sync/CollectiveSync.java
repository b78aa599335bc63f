package io.spindle.driver.sync;

import io.spindle.compress.CompressionState;
import io.spindle.compress.ExchangeState;
import io.spindle.config.CompressionSpec;
import io.spindle.config.SyncMode;
import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.ParameterSync;
import io.spindle.driver.RoundResult;
import io.spindle.driver.StepProgress;
import io.spindle.optim.FlatOptimizer;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.collective.CollectiveResult;
import io.spindle.worker.collective.CollectiveSpec;
import io.spindle.worker.collective.CollectiveTrainer;
import io.spindle.worker.collective.ProgressService;
import io.spindle.worker.collective.ProgressTarget;
import io.spindle.worker.collective.Rendezvous;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Synchronous gradient sharing through the collective engine: one Spark barrier stage per round of
 * up to R steps, inside which the workers all-reduce gradients directly with each other over TCP
 * every step and apply the global step themselves (see {@link CollectiveTrainer} for the protocol).
 * The driver only broadcasts the starting state and commits the end state of each round (the
 * parameters, the optimiser state and, with lossy compression, every worker's exchange state, kept
 * in {@link GlobalModel#exchangeState()}), so a relaunched stage redoes the round from the last
 * committed state: no step is lost or applied twice.
 */
public final class CollectiveSync implements ParameterSync {
  private static final SecureRandom RANDOM = new SecureRandom();
  private final JavaSparkContext sc;
  private final BatchLayout layout;
  private final int roundSteps;
  private final CompressionSpec compression;
  private final boolean sharded;
  private final int timeoutMillis;
  private final boolean driverRendezvous;
  private long bytesSent;
  private long steps;
  private long computeNanos;
  private long collectiveNanos;
  private long codecNanos;
  private double roundSeconds;
  private long modelBytes;
  private int progressEvery;
  private StepProgress.Sink progressSink;

  /**
   * @param layout how each step's global batch is split over the workers
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
    this.sc = sc;
    this.layout = layout;
    this.roundSteps = roundSteps;
    this.compression = compression;
    this.sharded = sharded;
    this.timeoutMillis = timeoutMillis;
    this.driverRendezvous = driverRendezvous;
  }

  @Override
  public String name() {
    return SyncMode.COLLECTIVE.configName();
  }

  /**
   * The engine's own counters, per step: bytes each worker sent to its ring neighbour (next to the
   * all-reduce lower bound 2(N-1)/N x model bytes), seconds computing (forward, backward,
   * optimiser), in the ring, compressing (outside the ring), and wall seconds with the barrier
   * stage's set-up and commit.
   */
  @Override
  public Map<String, Object> facts() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("compression", compression.toString());
    out.put("optimizer_sharded", sharded);
    if (steps > 0) {
      int workers = layout.workers();
      out.put("bytes_sent_per_worker_per_step", (double) bytesSent / workers / steps);
      out.put("allreduce_bound_bytes", 2.0 * (workers - 1) / workers * modelBytes);
      out.put("compute_seconds_per_step", computeNanos / 1e9 / steps);
      out.put("collective_seconds_per_step", collectiveNanos / 1e9 / steps);
      out.put("codec_seconds_per_step", codecNanos / 1e9 / steps);
      out.put("wall_seconds_per_step", roundSeconds / steps);
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
            rendezvous == null ? null : rendezvous.endpoint());
    ProgressService progress =
        progressSink == null
            ? null
            : ProgressService.start(
                sc.getConf().get("spark.driver.host", "127.0.0.1"),
                iteration,
                secret,
                layout.workers());
    Broadcast<FlatVector> params = sc.broadcast(FlatVector.copyOf(model.params()));
    Broadcast<FlatVector> state = sc.broadcast(stateOf(model));
    // one broadcast per rank: each task fetches only its own worker's state
    byte[][] committed = exchangeStatesFor(model, batches.getNumPartitions());
    List<Broadcast<byte[]>> exchange = new ArrayList<>();
    if (committed != null) {
      for (byte[] rankState : committed) {
        exchange.add(sc.broadcast(rankState));
      }
    }
    String previous = sc.getLocalProperty("spark.job.description");
    sc.setJobDescription(
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
            + ")");
    try {
      BarrierRound task =
          new BarrierRound(
              spec,
              params,
              state,
              exchange,
              step,
              steps,
              iteration,
              progress == null ? null : progress.target(progressEvery));
      // The results pass through a one-partition shuffle: that makes the barrier stage a map
      // stage, which Spark relaunches whole when a task fails (a failed barrier result stage
      // would abort the job instead).
      scala.reflect.ClassTag<CollectiveResult> tag =
          scala.reflect.ClassTag$.MODULE$.apply(CollectiveResult.class);
      JavaFutureAction<List<CollectiveResult>> job =
          JavaRDD.fromRDD(batches.rdd().barrier().mapPartitions(task, false, tag), tag)
              .repartition(1)
              .collectAsync();
      List<CollectiveResult> results = awaitReporting(job, progress, iteration + steps - 1);
      commit(results, model);
      this.steps += steps;
      modelBytes = 4L * model.params().length();
      double lossSum = 0;
      long examples = 0;
      long correct = 0;
      for (CollectiveResult r : results) {
        lossSum += r.lossSum();
        examples += r.examples();
        correct += r.correct();
        bytesSent += r.bytesSent();
        computeNanos += r.computeNanos() / results.size();
        collectiveNanos += r.collectiveNanos() / results.size();
        codecNanos += r.codecNanos() / results.size();
      }
      roundSeconds += (System.nanoTime() - start) / 1e9;
      return new RoundResult(
          steps, examples, correct, lossSum / examples, (System.nanoTime() - start) / 1e9);
    } finally {
      params.destroy();
      state.destroy();
      exchange.forEach(Broadcast::destroy);
      if (rendezvous != null) {
        rendezvous.close();
      }
      if (progress != null) {
        progress.close();
      }
    }
  }

  /** The committed exchange states of a round's ranks, each fetched only by its own task. */
  private record CommittedStates(List<Broadcast<byte[]>> byRank)
      implements CollectiveTrainer.ExchangeStates {
    @Override
    public int workers() {
      return byRank.size();
    }

    @Override
    public byte[] of(int rank) {
      return byRank.get(rank).value();
    }
  }

  /**
   * Waits for the round's job, handing the progress that arrives meanwhile to the sink on this
   * thread (then what arrived before the job's end); rethrows the job's failure as it is.
   */
  private List<CollectiveResult> awaitReporting(
      JavaFutureAction<List<CollectiveResult>> job, ProgressService progress, long lastIteration) {
    try {
      if (progress != null) {
        while (!job.isDone()) {
          ProgressService.Interval i = progress.poll(50);
          if (i != null) {
            progressSink.accept(toStep(i));
          }
        }
      }
      List<CollectiveResult> results = job.get();
      if (progress != null) {
        // the tasks sent their round's last frame before returning; give the reader threads a
        // moment to file it (and any frame still in flight) so that no record falls to onRound
        long deadline = System.nanoTime() + 500_000_000L;
        while (true) {
          ProgressService.Interval i =
              progress.poll(Math.max(0, (deadline - System.nanoTime()) / 1_000_000));
          if (i == null) {
            break;
          }
          progressSink.accept(toStep(i));
          if (i.iteration() >= lastIteration) {
            break;
          }
        }
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

  /** The function each barrier task runs: one round of {@link CollectiveTrainer}. */
  private static final class BarrierRound
      extends scala.runtime.AbstractFunction1<
          scala.collection.Iterator<MiniBatch>, scala.collection.Iterator<CollectiveResult>>
      implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final CollectiveSpec spec;
    private final Broadcast<FlatVector> params;
    private final Broadcast<FlatVector> state;
    private final List<Broadcast<byte[]>> exchange;
    private final int step;
    private final int steps;
    private final long iteration;
    private final ProgressTarget progress;

    BarrierRound(
        CollectiveSpec spec,
        Broadcast<FlatVector> params,
        Broadcast<FlatVector> state,
        List<Broadcast<byte[]>> exchange,
        int step,
        int steps,
        long iteration,
        ProgressTarget progress) {
      this.progress = progress;
      this.spec = spec;
      this.params = params;
      this.state = state;
      this.exchange = exchange;
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
              exchange.isEmpty() ? null : new CommittedStates(exchange),
              scala.collection.JavaConverters.asJavaIterator(partition),
              step,
              steps,
              iteration,
              progress);
      return scala.collection.JavaConverters.asScalaIterator(
          Collections.singletonList(result).iterator());
    }
  }

  private static FlatVector stateOf(GlobalModel model) {
    INDArray s = model.globalStep().state();
    return s.length() == 0 ? FlatVector.of(new float[0]) : FlatVector.copyOf(s);
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
      model.globalStep().setState(Nd4j.createFromArray(full));
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
