package io.spindle.worker.collective;

import io.spindle.data.MiniBatch;
import io.spindle.model.MaxNorm;
import io.spindle.model.RawUpdateRanges;
import io.spindle.model.Regularization;
import io.spindle.optim.FlatOptimizer;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.NetworkPool;
import io.spindle.worker.PartitionTrainer;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.BarrierTaskInfo;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
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
 *   <li>Every step: each task computes the summed gradient over its share of the global batch; ring
 *       reduce-scatter leaves task r with the summed gradient of chunk r.
 *       <ul>
 *         <li>sharded (ZeRO-1): task r divides by the global batch size, adds the penalty and
 *             applies the optimiser to its chunk of the parameters with its chunk of the optimiser
 *             state; ring all-gather then brings everyone the new parameters.
 *         <li>replicated: ring all-gather completes the all-reduce and every task applies the same
 *             optimiser step to the whole vector with its own full copy of the state.
 *       </ul>
 *   <li>At the end each task returns its state (shard) and rank 0 the parameters; the driver
 *       commits them. A task that dies makes Spark relaunch the whole stage, which starts again
 *       from the state the driver last committed, so no step is lost or applied twice.
 * </ol>
 */
public final class CollectiveTrainer {
  private CollectiveTrainer() {}

  public static CollectiveResult run(
      CollectiveSpec spec,
      FlatVector params,
      FlatVector state,
      Iterator<MiniBatch> partition,
      int firstStep,
      int steps,
      long firstIteration) {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    BarrierTaskInfo[] infos = ctx.getTaskInfos();
    int rank = ctx.partitionId();
    int size = infos.length;
    String host = hostOf(infos[rank].address());
    long version = spec.modelVersion(params.length());
    KillWatch watch = new KillWatch(ctx::isInterrupted, 200, "spindle-kill-watch-" + rank);
    try (watch;
        TcpRing ring = TcpRing.bind(host, rank, size, spec.wire(), version, spec.timeoutMillis())) {
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
      boolean injectFailure = ctx.stageAttemptNumber() == 0 && rank == 0;
      return NetworkPool.withNetwork(
          spec.model(),
          net ->
              train(
                  spec,
                  ring,
                  net,
                  params,
                  state,
                  partition,
                  firstStep,
                  steps,
                  firstIteration,
                  injectFailure));
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
      MultiLayerNetwork net,
      FlatVector params,
      FlatVector state,
      Iterator<MiniBatch> partition,
      int firstStep,
      int steps,
      long firstIteration,
      boolean injectFailure) {
    INDArray w = net.params();
    if (w.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException(
          "the collective engine works in float32, got model.precision " + w.dataType());
    }
    int n = (int) w.length();
    int rank = ring.rank();
    int[] bounds = TcpRing.bounds(n, ring.size());
    int from = spec.sharded() ? bounds[rank] : 0;
    int to = spec.sharded() ? bounds[rank + 1] : n;
    params.copyTo(w);
    float[] values = params.toFloatArray();
    Regularization reg =
        Regularization.of(net, spec.model().model().l1(), spec.model().model().l2())
            .slice(from, to);
    FlatOptimizer optimizer =
        FlatOptimizer.create(spec.model().optimizer(), to - from, DataType.FLOAT);
    optimizer.setState(sliceState(state, n, from, to));
    optimizer.rawUpdates(RawUpdateRanges.of(net).slice(from, to));
    // every task holds the full vector after the step (and all-gather), so every task applies
    // the constraint to it identically; rank 0's copy is what the driver commits
    MaxNorm maxNorm = MaxNorm.of(net, spec.model().model().maxNorm());
    for (int i = 0; i < firstStep; i++) {
      partition.next();
    }
    double lossSum = 0;
    long examples = 0;
    long correct = 0;
    long computeNanos = 0;
    float[] gradient = new float[n];
    for (int s = 0; s < steps; s++) {
      int step = firstStep + s;
      long iteration = firstIteration + s;
      if (injectFailure && spec.failAtStep() == s) {
        throw new IllegalStateException(
            "injected failure (test hook) in rank 0 at step " + step + " of the round");
      }
      long t0 = System.nanoTime();
      MiniBatch batch = partition.next();
      if (batch.step() != step) {
        throw new IllegalStateException(
            "worker partition out of order: expected step " + step + ", found " + batch.step());
      }
      if (batch.isEmpty()) {
        Arrays.fill(gradient, 0f);
      } else {
        Nd4j.getRandom()
            .setSeed(PartitionTrainer.dropoutSeed(spec.model().seed(), iteration, rank));
        double meanLoss = PartitionTrainer.computeGradient(net, spec.model(), batch);
        lossSum += meanLoss * batch.size();
        examples += batch.size();
        correct += PartitionTrainer.correctOfLastForward(net, batch);
        FlatVector.copyOut(net.getFlattenedGradients(), gradient, 0);
      }
      computeNanos += System.nanoTime() - t0;
      // sharded: sum only this worker's chunk, update it, then share the new parameters;
      // replicated: sum everything and let every worker apply the same update
      if (spec.sharded()) {
        ring.reduceScatter(gradient, bounds, iteration);
      } else {
        ring.allReduce(gradient, bounds, iteration);
      }
      t0 = System.nanoTime();
      float scale = (float) (1.0 / spec.stepSize(step));
      for (int i = from; i < to; i++) {
        gradient[i] *= scale;
      }
      reg.addGradient(values, from, gradient, from);
      optimizer.step(values, from, gradient, from, iteration);
      computeNanos += System.nanoTime() - t0;
      if (spec.sharded()) {
        ring.allGather(values, bounds, iteration);
      }
      t0 = System.nanoTime();
      maxNorm.apply(values, 0);
      FlatVector.copyInto(values, 0, n, w, 0);
      computeNanos += System.nanoTime() - t0;
    }
    boolean sendState = spec.sharded() || rank == 0;
    return new CollectiveResult(
        rank,
        rank == 0 ? FlatVector.of(values) : null,
        sendState ? FlatVector.copyOf(optimizer.state()) : null,
        from,
        to,
        lossSum,
        examples,
        correct,
        steps,
        ring.bytesSent(),
        ring.nanosInCollectives(),
        computeNanos);
  }

  /**
   * The optimiser state of parameters {@code [from, to)} out of a full state laid out as k blocks
   * of n values ({@code [m | v]} for Adam), in the same layout for the shard.
   */
  public static INDArray sliceState(FlatVector full, int n, int from, int to) {
    int k = full.length() / n;
    float[] all = full.toFloatArray();
    float[] out = new float[k * (to - from)];
    for (int j = 0; j < k; j++) {
      System.arraycopy(all, j * n + from, out, j * (to - from), to - from);
    }
    return Nd4j.createFromArray(out);
  }

  static String hostOf(String address) {
    int colon = address.lastIndexOf(':');
    return colon > 0 ? address.substring(0, colon) : address;
  }
}
