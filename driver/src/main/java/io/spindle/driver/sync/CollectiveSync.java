package io.spindle.driver.sync;

import io.spindle.config.WireFormat;
import io.spindle.data.MiniBatch;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.collective.CollectiveResult;
import io.spindle.worker.collective.CollectiveSpec;
import io.spindle.worker.collective.CollectiveTrainer;
import io.spindle.worker.collective.Rendezvous;
import java.security.SecureRandom;
import java.util.Collections;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Synchronous gradient sharing through the collective engine: one Spark barrier stage per round of
 * up to R steps, inside which the workers all-reduce gradients directly with each other over TCP
 * every step (see {@link CollectiveTrainer} for the protocol). The driver only broadcasts the
 * starting state and commits the end state of each round, so a relaunched stage redoes the round
 * from the last committed state: no step is lost or applied twice.
 */
public final class CollectiveSync implements ParameterSync {
  private static final SecureRandom RANDOM = new SecureRandom();
  private final JavaSparkContext sc;
  private final int roundSteps;
  private final WireFormat wire;
  private final boolean sharded;
  private final int numExamples;
  private final int batchSize;
  private final int timeoutMillis;
  private final int failAtStep;
  private final boolean driverRendezvous;
  private long bytesSent;
  private long rounds;
  private long steps;
  private long computeNanos;
  private long collectiveNanos;
  private double roundSeconds;

  /**
   * @param roundSteps R, steps per barrier stage (0: the rest of the epoch)
   * @param driverRendezvous tasks find each other through a {@link Rendezvous} service on the
   *     driver (false: through {@code BarrierTaskContext.allGather}, a second slower per round)
   * @param failAtStep test hook: rank 0 throws once at this step of the first round (-1: never)
   */
  public CollectiveSync(
      JavaSparkContext sc,
      int roundSteps,
      WireFormat wire,
      boolean sharded,
      int numExamples,
      int batchSize,
      int timeoutMillis,
      boolean driverRendezvous,
      int failAtStep) {
    this.sc = sc;
    this.roundSteps = roundSteps;
    this.wire = wire;
    this.sharded = sharded;
    this.numExamples = numExamples;
    this.batchSize = batchSize;
    this.timeoutMillis = timeoutMillis;
    this.failAtStep = failAtStep;
    this.driverRendezvous = driverRendezvous;
  }

  @Override
  public String name() {
    return "collective";
  }

  /** Mean seconds per step each worker spent computing (forward, backward, optimiser). */
  public double computeSecondsPerStep() {
    return steps == 0 ? Double.NaN : computeNanos / 1e9 / steps;
  }

  /** Mean seconds per step each worker spent in the ring (sending, waiting, summing). */
  public double collectiveSecondsPerStep() {
    return steps == 0 ? Double.NaN : collectiveNanos / 1e9 / steps;
  }

  /** Mean wall seconds per step, barrier stage set-up and commit included. */
  public double wallSecondsPerStep() {
    return steps == 0 ? Double.NaN : roundSeconds / steps;
  }

  /** Global steps run so far. */
  public long steps() {
    return steps;
  }

  /** Bytes all workers sent to each other so far. */
  public long bytesSent() {
    return bytesSent;
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
            wire,
            sharded,
            numExamples,
            batchSize,
            iteration,
            secret,
            timeoutMillis,
            rendezvous == null ? null : rendezvous.endpoint(),
            rounds == 0 ? failAtStep : -1);
    Broadcast<FlatVector> params = sc.broadcast(FlatVector.copyOf(model.params()));
    Broadcast<FlatVector> state = sc.broadcast(stateOf(model));
    sc.setJobDescription(
        "collective round: steps "
            + step
            + ".."
            + (step + steps - 1)
            + " (global "
            + iteration
            + ")");
    try {
      BarrierRound task = new BarrierRound(spec, params, state, step, steps, iteration);
      // The results pass through a one-partition shuffle: that makes the barrier stage a map
      // stage, which Spark relaunches whole when a task fails (a failed barrier result stage
      // would abort the job instead).
      scala.reflect.ClassTag<CollectiveResult> tag =
          scala.reflect.ClassTag$.MODULE$.apply(CollectiveResult.class);
      List<CollectiveResult> results =
          JavaRDD.fromRDD(batches.rdd().barrier().mapPartitions(task, false, tag), tag)
              .repartition(1)
              .collect();
      commit(results, model);
      rounds++;
      this.steps += steps;
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
      }
      roundSeconds += (System.nanoTime() - start) / 1e9;
      return new RoundResult(
          steps, examples, correct, lossSum / examples, (System.nanoTime() - start) / 1e9);
    } finally {
      params.destroy();
      state.destroy();
      if (rendezvous != null) {
        rendezvous.close();
      }
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
    INDArray s = model.optimizer().state();
    return s.length() == 0 ? FlatVector.of(new float[0]) : FlatVector.copyOf(s);
  }

  /** Takes rank 0's parameters and reassembles the optimiser state from the shards. */
  private static void commit(List<CollectiveResult> results, GlobalModel model) {
    INDArray w = model.params();
    int n = (int) w.length();
    INDArray state = model.optimizer().state();
    int k = (int) (state.length() / n);
    float[] full = new float[(int) state.length()];
    for (CollectiveResult r : results) {
      if (r.rank() == 0) {
        r.params().copyTo(w);
      }
      if (r.state() != null && k > 0) {
        float[] shard = r.state().toFloatArray();
        int len = r.stateTo() - r.stateFrom();
        for (int j = 0; j < k; j++) {
          System.arraycopy(shard, j * len, full, j * n + r.stateFrom(), len);
        }
      }
    }
    if (k > 0) {
      model.optimizer().setState(Nd4j.createFromArray(full));
    }
  }
}
