package io.spindle.worker.collective;

import io.spindle.compress.CompressionState;
import io.spindle.config.Compression;
import io.spindle.config.WireFormat;
import io.spindle.data.MiniBatch;
import io.spindle.optim.FlatOptimizer;
import io.spindle.optim.GlobalStep;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.NetworkPool;
import io.spindle.worker.ShardCursor;
import io.spindle.worker.ShardGradients;
import io.spindle.worker.TrainableNetwork;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.BarrierTaskInfo;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One task of a collective round, inside a Spark barrier stage. The round's protocol:
 *
 * <ol>
 *   <li>Each task opens a listener on its executor's address; the tasks exchange endpoints through
 *       the driver's {@link Rendezvous} (or {@link BarrierTaskContext#allGather}) and connect into
 *       a ring, proving the round's secret.
 *   <li>Every step: each task computes the summed gradient over its logical shards of the global
 *       batch (one per task when the round has as many workers as shards, more when workers are
 *       missing: {@link io.spindle.data.ShardAssignment}); the round's {@link GradientExchange}
 *       ({@code cluster.compression}) sums it over the tasks, exactly or compressed, on the range
 *       the task updates (with fewer workers than shards, which only {@code compression: none}
 *       allows, a {@link ShardRing} adds the shards' gradients in the order a ring of all shards
 *       adds them):
 *       <ul>
 *         <li>sharded (ZeRO-1): task r's chunk; task r applies the {@link GlobalStep} update (mean,
 *             penalty, optimiser) to its chunk of the parameters with its chunk of the optimiser
 *             state; ring all-gather (fp32) then brings everyone the new parameters, and every task
 *             applies the max-norm constraint to its full copy.
 *         <li>replicated: the whole vector; every task applies the same whole {@link GlobalStep}
 *             with its own full copy of the state.
 *       </ul>
 *   <li>At the end each task returns its optimiser state (shard), its exchange's state (residuals,
 *       factors) and rank 0 the parameters; the driver commits them. A task that dies makes Spark
 *       relaunch the whole stage, which starts again from the state the driver last committed
 *       (parameters, optimiser and exchange state), so no step is lost or applied twice.
 * </ol>
 */
public final class CollectiveTrainer {
  private CollectiveTrainer() {}

  public static CollectiveResult run(
      CollectiveSpec spec,
      FlatVector params,
      FlatVector state,
      ExchangeStates exchangeStates,
      Iterator<MiniBatch> partition,
      int firstStep,
      int steps,
      long firstIteration) {
    return run(
        spec, params, state, exchangeStates, partition, firstStep, steps, firstIteration, null);
  }

  /**
   * As {@link #run(CollectiveSpec, FlatVector, FlatVector, ExchangeStates, Iterator, int, int,
   * long)}, reporting this rank's progress to {@code progress} (null: none) while the round runs.
   */
  public static CollectiveResult run(
      CollectiveSpec spec,
      FlatVector params,
      FlatVector state,
      ExchangeStates exchangeStates,
      Iterator<MiniBatch> partition,
      int firstStep,
      int steps,
      long firstIteration,
      ProgressTarget progress) {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    BarrierTaskInfo[] infos = ctx.getTaskInfos();
    int rank = ctx.partitionId();
    int size = infos.length;
    if (size != spec.shards().workers()) {
      throw new IllegalStateException(
          "the round was formed for "
              + spec.shards().workers()
              + " workers, but its barrier stage has "
              + size
              + " tasks");
    }
    String host = hostOf(infos[rank].address());
    long version = spec.modelVersion(params.length());
    KillWatch watch = new KillWatch(ctx::isInterrupted, 200, "spindle-kill-watch-" + rank);
    try (watch;
        TcpRing ring =
            TcpRing.bind(host, rank, size, WireFormat.FP32, version, spec.timeoutMillis())) {
      watch.guard(ring::close);
      List<String> endpoints =
          spec.rendezvous() == null
              ? Arrays.asList(ctx.allGather(ring.endpoint()))
              : Rendezvous.join(
                  spec.rendezvous(),
                  spec.round(),
                  ctx.stageAttemptNumber(),
                  rank,
                  size,
                  ring.endpoint(),
                  spec.secret(),
                  spec.timeoutMillis(),
                  watch::guard);
      ring.connect(endpoints, spec.secret(), spec.round());
      ShardCursor cursor = new ShardCursor(partition, firstStep, spec.shards().count(rank));
      CompressionState exchangeState = exchangeStateOf(exchangeStates, rank, size);
      try (ProgressReporter reporter =
          ProgressReporter.start(
              progress, ctx.stageAttemptNumber(), rank, size, spec.timeoutMillis())) {
        return NetworkPool.withNetwork(
            spec.model(),
            net ->
                train(
                    spec,
                    ring,
                    net,
                    params,
                    state,
                    exchangeState,
                    cursor,
                    steps,
                    firstIteration,
                    reporter));
      }
    } catch (RuntimeException e) {
      if (watch.fired()) {
        throw new CollectiveException(
            "rank "
                + rank
                + ": Spark killed this task (another task of the barrier stage failed), so its"
                + " connections were closed; Spark relaunches the stage from the last committed"
                + " state",
            e);
      }
      throw e;
    }
  }

  private static CollectiveResult train(
      CollectiveSpec spec,
      TcpRing ring,
      TrainableNetwork net,
      FlatVector params,
      FlatVector state,
      CompressionState exchangeState,
      ShardCursor cursor,
      int steps,
      long firstIteration,
      ProgressReporter reporter) {
    INDArray w = net.params();
    if (w.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException(
          "the collective engine works in float32, got model.precision " + w.dataType());
    }
    int n = (int) w.length();
    int rank = ring.rank();
    // with fewer workers than shards, each worker plays its shards' places in a ring of shards and
    // owns their chunks, so the sums are added in the order a ring of all shards adds them
    // (exact fp32 only: config validation refuses a lossy compression with a changing worker
    // count, and a lossy exchange keeps one residual per worker, not per shard)
    ShardRing shardRing =
        spec.shards().isIdentity() || spec.compression().scheme() != Compression.NONE
            ? null
            : new ShardRing(ring, spec.shards(), WireFormat.FP32);
    int[] bounds =
        shardRing == null
            ? TcpRing.bounds(n, ring.size())
            : ShardRing.workerBounds(spec.shards(), n);
    int from = spec.sharded() ? bounds[rank] : 0;
    int to = spec.sharded() ? bounds[rank + 1] : n;
    params.copyTo(w);
    float[] values = params.toFloatArray();
    GlobalStep update = GlobalStep.create(spec.model().optimizer(), net.rules(), from, to);
    GradientExchange exchange =
        GradientExchange.create(
            spec.compression(), ring, net.gradientLayout(), spec.model().seed());
    exchange.restore(exchangeState);
    update.setState(
        Nd4j.createFromArray(FlatOptimizer.sliceState(state.toFloatArray(), n, from, to)));
    ShardGradients shares = new ShardGradients();
    int firstShard = spec.shards().first(rank);
    long computeNanos = 0;
    long codecNanos = 0;
    long progressNanos = 0;
    float[] gradient = new float[n];
    float[][] perShard = shardRing == null ? null : new float[spec.shards().count(rank)][n];
    for (int s = 0; s < steps; s++) {
      int step = cursor.step();
      long iteration = firstIteration + s;
      long t0 = System.nanoTime();
      List<MiniBatch> batches = cursor.next();
      // sharded: sum only this worker's chunk, update it, then share the new parameters;
      // replicated: sum everything and let every worker apply the same update
      if (shardRing == null) {
        shares.compute(
            net, spec.model(), spec.layout(), firstShard, step, iteration, batches, gradient);
        computeNanos += System.nanoTime() - t0;
        t0 = System.nanoTime();
        long ringBefore = ring.nanosInCollectives();
        exchange.reduce(gradient, from, to, iteration);
        codecNanos += System.nanoTime() - t0 - (ring.nanosInCollectives() - ringBefore);
      } else {
        shares.computeEach(
            net, spec.model(), spec.layout(), firstShard, step, iteration, batches, perShard);
        computeNanos += System.nanoTime() - t0;
        shardRing.reduceScatter(perShard, iteration);
        shardRing.gather(perShard, gradient);
        if (!spec.sharded()) {
          ring.allGather(gradient, bounds, iteration);
        }
      }
      t0 = System.nanoTime();
      update.update(values, gradient, spec.layout().stepSize(step), iteration);
      computeNanos += System.nanoTime() - t0;
      if (spec.sharded()) {
        ring.allGather(
            values, bounds, iteration, GradientExchange.PARAMETERS_TAG, WireFormat.FP32, null);
      }
      t0 = System.nanoTime();
      // every task holds the full vector now, so every task applies the constraint to it
      // identically; rank 0's copy is what the driver commits
      update.constrain(values);
      FlatVector.copyInto(values, 0, n, w, 0);
      computeNanos += System.nanoTime() - t0;
      if (reporter != null) {
        t0 = System.nanoTime();
        reporter.step(
            iteration,
            s == steps - 1,
            step + 1,
            shares.examples(),
            shares.correct(),
            shares.lossSum());
        progressNanos += System.nanoTime() - t0;
      }
    }
    boolean sendState = spec.sharded() || rank == 0;
    CompressionState after = exchange.state();
    return new CollectiveResult(
        rank,
        rank == 0 ? FlatVector.of(values) : null,
        sendState ? FlatVector.copyOf(update.state()) : null,
        from,
        to,
        shares.lossSum(),
        shares.examples(),
        shares.correct(),
        steps,
        ring.bytesSent(),
        ring.nanosInCollectives(),
        computeNanos,
        codecNanos,
        progressNanos,
        reporter == null ? 0 : reporter.senderCpuNanos(),
        after == null ? null : after.toBytes());
  }

  /**
   * Rank {@code rank}'s committed exchange state, or null to start fresh; a ring of another size
   * than the states' is refused (the driver regroups states before it ships them).
   */
  private static CompressionState exchangeStateOf(ExchangeStates states, int rank, int size) {
    if (states == null) {
      return null;
    }
    if (states.workers() != size) {
      throw new CollectiveException(
          "rank "
              + rank
              + ": the driver shipped exchange states for "
              + states.workers()
              + " workers to a ring of "
              + size);
    }
    return CompressionState.fromBytes(states.of(rank), "the committed state of rank " + rank);
  }

  /**
   * The driver's committed exchange states of the round's ranks ({@code CompressionState.toBytes()}
   * each), looked up by rank so that a task fetches only its own.
   */
  public interface ExchangeStates {
    int workers();

    byte[] of(int rank);
  }

  static String hostOf(String address) {
    int colon = address.lastIndexOf(':');
    return colon > 0 ? address.substring(0, colon) : address;
  }
}
