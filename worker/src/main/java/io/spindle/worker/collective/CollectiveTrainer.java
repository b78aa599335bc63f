package io.spindle.worker.collective;

import io.spindle.compress.CompressionState;
import io.spindle.config.Compression;
import io.spindle.config.WireFormat;
import io.spindle.data.MiniBatch;
import io.spindle.optim.GlobalStep;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.NetworkPool;
import io.spindle.worker.ShardCursor;
import io.spindle.worker.ShardGradients;
import io.spindle.worker.TrainableNetwork;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.BarrierTaskInfo;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

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
 *   <li>Each task starts from the committed state ({@link RoundStart}): the parameters, its
 *       optimiser state (shard) and its exchange's state, each taken from its executor's {@link
 *       StickyState} when that holds the committed bits (checked by SHA-256), else fetched from the
 *       driver: by digest from the round's {@link Rendezvous} server, or without it from the
 *       round's broadcast.
 *   <li>At the end each task returns its exchange's state (residuals, factors), its optimiser state
 *       when sharded, and rank 0 the parameters and, when replicated, the whole optimiser state
 *       (the other ranks hold the same bits); the driver commits them. With the round's server they
 *       travel as raw bits to it, uploaded before the task's Spark result (which names them by
 *       stage attempt and digest, and carries only counters), and a task that cannot upload fails;
 *       without, they travel in the Spark result. Every task keeps what it holds in its executor
 *       for the next round. A task that dies makes Spark relaunch the whole stage, which starts
 *       again from the state the driver last committed (parameters, optimiser and exchange state),
 *       so no step is lost or applied twice.
 * </ol>
 */
public final class CollectiveTrainer {
  private CollectiveTrainer() {}

  /**
   * Runs this task's rank of the round from {@code start} (the committed state: from this
   * executor's {@link StickyState} where it holds the exact committed bits, else from the driver),
   * reporting its progress to {@code progress} (null: none) while the round runs, and keeps its end
   * state in the executor for the next round.
   */
  public static CollectiveResult run(
      CollectiveSpec spec,
      RoundStart start,
      Iterator<MiniBatch> partition,
      int firstStep,
      int steps,
      long firstIteration,
      ProgressTarget progress) {
    long startedAtMillis = System.currentTimeMillis();
    long started = System.nanoTime();
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
    long version = spec.modelVersion(start.numParams());
    int attempt = ctx.stageAttemptNumber();
    KillWatch watch = new KillWatch(ctx::isInterrupted, 200, "spindle-kill-watch-" + rank);
    try (watch) {
      ShardCursor cursor = new ShardCursor(partition, firstStep, spec.shards().count(rank));
      try (ProgressReporter reporter =
          ProgressReporter.start(progress, attempt, rank, size, spec.timeoutMillis())) {
        return NetworkPool.withNetwork(
            spec.model(),
            net -> {
              // the replica and the committed state first, the ring after: neither needs the
              // ring, and the rendezvous then waits only for the slowest rank's start, not for
              // its start plus its replica and state (the first round builds the replica and
              // digests the state: tenths of a second that used to follow the rendezvous)
              long borrowed = System.nanoTime();
              Loaded loaded = Loaded.of(spec, net, start, rank, size);
              long stateLoaded = System.nanoTime();
              try (TcpRing ring =
                  TcpRing.bind(
                      host,
                      rank,
                      size,
                      WireFormat.FP32,
                      version,
                      spec.timeoutMillis(),
                      spec.ringTransport())) {
                watch.guard(ring::close);
                List<String> endpoints =
                    spec.rendezvous() == null
                        ? Arrays.asList(ctx.allGather(ring.endpoint()))
                        : Rendezvous.join(
                            spec.rendezvous(),
                            spec.round(),
                            attempt,
                            rank,
                            size,
                            ring.endpoint(),
                            spec.secret(),
                            spec.timeoutMillis(),
                            watch::guard);
                ring.connect(endpoints, spec.secret(), spec.round());
                long connected = System.nanoTime();
                return train(
                    spec,
                    ring,
                    net,
                    start,
                    loaded,
                    cursor,
                    steps,
                    firstIteration,
                    reporter,
                    new Setup(
                        startedAtMillis,
                        connected - stateLoaded,
                        borrowed - started,
                        stateLoaded - borrowed,
                        connected),
                    attempt);
              }
            });
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

  /**
   * What a task's round starts from, loaded before its ring exists: the committed parameters (also
   * in the network), this rank's optimiser (its {@link GlobalStep} holding its committed state) and
   * its committed exchange state, with where each came from.
   */
  private record Loaded(
      int n,
      int from,
      int to,
      int[] bounds,
      float[] values,
      GlobalStep update,
      CompressionState exchangeState,
      RoundStart.Traffic traffic) {

    static Loaded of(
        CollectiveSpec spec, TrainableNetwork net, RoundStart start, int rank, int size) {
      INDArray w = net.params();
      if (w.dataType() != DataType.FLOAT) {
        throw new IllegalArgumentException(
            "the collective engine works in float32, got model.precision " + w.dataType());
      }
      int n = (int) w.length();
      int[] bounds = ringBounds(spec, n);
      int from = spec.sharded() ? bounds[rank] : 0;
      int to = spec.sharded() ? bounds[rank + 1] : n;
      if (n != start.numParams()) {
        throw new CollectiveException(
            "rank "
                + rank
                + ": the model has "
                + n
                + " parameters, the round's start "
                + start.numParams());
      }
      // the committed state: this executor's copy where it holds exactly those bits, else the
      // driver's
      RoundStart.Traffic traffic = new RoundStart.Traffic();
      start.retain();
      FlatVector params = start.params(rank, traffic, () -> FlatVector.copyOf(w));
      FlatVector state = start.state(rank, from, to, traffic);
      byte[] committedExchange = start.exchange(rank, size, traffic);
      CompressionState exchangeState =
          committedExchange == null
              ? null
              : CompressionState.fromBytes(
                  committedExchange, "the committed state of rank " + rank);
      params.copyTo(w);
      float[] values = params.toFloatArray();
      GlobalStep update = GlobalStep.create(spec.model().optimizer(), net.rules(), from, to);
      update.setState(state.toINDArray());
      return new Loaded(n, from, to, bounds, values, update, exchangeState, traffic);
    }
  }

  /**
   * How a task's round got to its first step, for its {@link RoundTimeline}: the wall clock when
   * its function started, the ring's set-up, the network replica and the committed state's loading
   * before the ring (named as the timeline names them), and the {@code System.nanoTime()} when the
   * ring was connected, from which {@link #train} counts the rest of the state's time.
   */
  private record Setup(
      long startedAtMillis,
      long setupNanos,
      long networkNanos,
      long stateNanos,
      long connectedNanos) {}

  private static CollectiveResult train(
      CollectiveSpec spec,
      TcpRing ring,
      TrainableNetwork net,
      RoundStart start,
      Loaded init,
      ShardCursor cursor,
      int steps,
      long firstIteration,
      ProgressReporter reporter,
      Setup setup,
      int attempt) {
    INDArray w = net.params();
    int n = init.n();
    int rank = ring.rank();
    // with fewer workers than shards, each worker plays its shards' places in a ring of shards and
    // owns their chunks, so the sums are added in the order a ring of all shards adds them
    // (exact fp32 only: config validation refuses a lossy compression with a changing worker
    // count, and a lossy exchange keeps one residual per worker, not per shard)
    ShardRing shardRing =
        spec.shards().isIdentity() || spec.compression().scheme() != Compression.NONE
            ? null
            : new ShardRing(ring, spec.shards(), WireFormat.FP32);
    int[] bounds = init.bounds();
    int from = init.from();
    int to = init.to();
    RoundStart.Traffic traffic = init.traffic();
    float[] values = init.values();
    GlobalStep update = init.update();
    GradientExchange exchange =
        GradientExchange.create(
            spec.compression(), ring, net.gradientLayout(), spec.model().seed());
    exchange.restore(init.exchangeState());
    ShardGradients shares = new ShardGradients();
    int firstShard = spec.shards().first(rank);
    long computeNanos = 0;
    long codecNanos = 0;
    long progressNanos = 0;
    float[] gradient = new float[n];
    float[][] perShard = shardRing == null ? null : new float[spec.shards().count(rank)][n];
    long loaded = System.nanoTime();
    long firstStepsNanos = 0;
    StepPhases phases = StepPhases.create(RoundTimeline.WARM_STEPS);
    for (int s = 0; s < steps; s++) {
      if (s == RoundTimeline.WARM_STEPS) {
        firstStepsNanos = System.nanoTime() - loaded;
      }
      if (phases != null) {
        phases.begin(s);
      }
      int step = cursor.step();
      long iteration = firstIteration + s;
      long t0 = System.nanoTime();
      List<MiniBatch> batches = cursor.next();
      if (phases != null) {
        phases.end(StepPhases.Phase.DATA);
      }
      // sharded: sum only this worker's chunk, update it, then share the new parameters;
      // replicated: sum everything and let every worker apply the same update
      if (shardRing == null) {
        // a worker's one shard leaves its gradient in the network (local): the exchange reads it
        // from there, and only what the ring needs on the heap reaches the heap
        FloatBuffer local =
            shares.compute(
                net, spec.model(), spec.layout(), firstShard, step, iteration, batches, gradient);
        computeNanos += System.nanoTime() - t0;
        if (phases != null) {
          phases.end(StepPhases.Phase.GRADIENT);
        }
        t0 = System.nanoTime();
        long ringBefore = ring.nanosInCollectives();
        exchange.reduce(local, gradient, from, to, iteration);
        codecNanos += System.nanoTime() - t0 - (ring.nanosInCollectives() - ringBefore);
        if (phases != null) {
          phases.end(StepPhases.Phase.REDUCE);
        }
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
      if (phases != null) {
        phases.end(StepPhases.Phase.UPDATE);
      }
      // sharded without max-norm: the peers' chunks go straight into the network's parameters,
      // and values keeps only this rank's chunk current until the round's end
      FloatBuffer into = gatherTarget(spec, net, w);
      if (spec.sharded()) {
        ring.allGather(
            values, into, bounds, iteration, GradientExchange.PARAMETERS_TAG, WireFormat.FP32);
      }
      if (phases != null) {
        phases.end(StepPhases.Phase.GATHER);
      }
      t0 = System.nanoTime();
      if (into == null) {
        // every task holds the full vector now, so every task applies the constraint to it
        // identically; rank 0's copy is what the driver commits
        update.constrain(values);
        FlatVector.copyInto(values, 0, n, w, 0);
      }
      computeNanos += System.nanoTime() - t0;
      if (phases != null) {
        phases.end(StepPhases.Phase.COPY_IN);
      }
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
      if (phases != null) {
        phases.end(StepPhases.Phase.REPORT);
      }
    }
    if (gatherTarget(spec, net, w) != null) {
      // the network holds the full vector the driver commits (and the executor keeps)
      FlatVector.copyOut(w, values, 0);
    }
    long stepped = System.nanoTime();
    if (phases != null) {
      phases.print(rank, firstIteration);
    }
    int firstSteps = Math.min(steps, RoundTimeline.WARM_STEPS);
    if (steps <= RoundTimeline.WARM_STEPS) {
      firstStepsNanos = stepped - loaded;
    }
    // a replicated optimiser's ranks > 0 hold rank 0's parameters and state bit for bit: only rank
    // 0 returns them; every rank keeps its own copy in its executor for the next round
    boolean sendState = spec.sharded() || rank == 0;
    CompressionState after = exchange.state();
    FlatVector endParams = FlatVector.of(values);
    FlatVector endState = FlatVector.copyOf(update.state());
    byte[] endExchange = after == null ? null : after.toBytes();
    End end = End.of(spec, start, rank, attempt, sendState, endParams, endState, endExchange);
    start.keep(
        endParams,
        end.paramsDigest,
        endState,
        end.stateDigest,
        endExchange,
        end.exchangeDigest,
        firstIteration + steps);
    RoundTimeline timeline =
        new RoundTimeline(
            setup.startedAtMillis(),
            setup.setupNanos(),
            setup.networkNanos(),
            setup.stateNanos() + (loaded - setup.connectedNanos()),
            firstSteps,
            firstStepsNanos,
            steps,
            stepped - loaded,
            System.nanoTime() - stepped,
            System.currentTimeMillis());
    // off Spark (the round's server): the result names the uploaded values by digest only
    boolean inResult = !start.raw();
    return new CollectiveResult(
        rank,
        inResult && rank == 0 ? endParams : null,
        inResult && sendState ? endState : null,
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
        inResult ? endExchange : null,
        traffic.hits,
        traffic.built,
        traffic.misses,
        traffic.bytesFetched,
        net.computePrecision().configName(),
        timeline,
        attempt,
        rank == 0 ? end.paramsDigest : null,
        sendState ? end.stateDigest : null,
        end.exchangeDigest,
        start.raw(),
        end.uploaded);
  }

  /**
   * A task's end: the SHA-256 of each value it keeps in its executor's {@link StickyState} or
   * uploads (computed once for both; null where the value is neither kept nor sent), and the bytes
   * it uploaded.
   */
  private record End(
      String paramsDigest, String stateDigest, String exchangeDigest, long uploaded) {

    /**
     * Digests the end values and, with the round's server, uploads what this rank returns (rank 0
     * the parameters, the optimiser state when this rank sends it, the exchange state). The values
     * it uploads are digested first, and each upload starts on a helper thread of its own as soon
     * as its digest is known, while this thread digests the next value (the service digests what
     * arrives, so this task's SHA-256 of the next value runs beside the service's of the one
     * before, not after it, and a value's upload does not wait for the one before). A failed upload
     * throws, which fails the task and so its stage: Spark relaunches it from the committed state.
     */
    static End of(
        CollectiveSpec spec,
        RoundStart start,
        int rank,
        int attempt,
        boolean sendState,
        FlatVector params,
        FlatVector state,
        byte[] exchange) {
      boolean keep = start.sticky();
      boolean raw = start.raw();
      try (Uploads uploads = raw ? new Uploads(spec, rank, attempt) : null) {
        String paramsDigest = null;
        String stateDigest = null;
        String exchangeDigest = null;
        if (raw && rank == 0) {
          paramsDigest = StickyState.digest(params);
          uploads.send(StickyState.Kind.PARAMS, params, paramsDigest);
        }
        if (raw && sendState) {
          stateDigest = StickyState.digest(state);
          uploads.send(StickyState.Kind.OPTIMIZER, state, stateDigest);
        }
        if (exchange != null) {
          exchangeDigest = StickyState.digest(exchange);
          if (raw) {
            uploads.send(StickyState.Kind.EXCHANGE, exchange, exchangeDigest);
          }
        }
        // what this rank only keeps, digested while its uploads run
        if (keep && paramsDigest == null) {
          paramsDigest = StickyState.digest(params);
        }
        if (keep && stateDigest == null) {
          stateDigest = StickyState.digest(state);
        }
        return new End(paramsDigest, stateDigest, exchangeDigest, raw ? uploads.await() : 0);
      }
    }
  }

  /**
   * A task's uploads to the round's server (at most three values), each on a helper thread of its
   * own, on a connection of its own, while the task's thread goes on; {@link #await} waits for them
   * all and rethrows the first failure as it is.
   */
  private static final class Uploads implements AutoCloseable {
    private final CollectiveSpec spec;
    private final int rank;
    private final int attempt;
    private final java.util.concurrent.ExecutorService threads;
    private final List<java.util.concurrent.Future<Long>> sent = new java.util.ArrayList<>();

    Uploads(CollectiveSpec spec, int rank, int attempt) {
      this.spec = spec;
      this.rank = rank;
      this.attempt = attempt;
      this.threads =
          java.util.concurrent.Executors.newCachedThreadPool(
              r -> {
                Thread t = new Thread(r, "spindle-upload-" + rank);
                t.setDaemon(true);
                return t;
              });
    }

    void send(StickyState.Kind kind, Object value, String digest) {
      sent.add(
          threads.submit(
              () -> {
                StateService.upload(
                    spec.rendezvous(),
                    spec.round(),
                    attempt,
                    rank,
                    kind,
                    value,
                    digest,
                    spec.secret(),
                    spec.timeoutMillis());
                return StateWire.length(value);
              }));
    }

    /** The bytes uploaded, once every upload has been stored (its receipt checked). */
    long await() {
      long bytes = 0;
      try {
        for (java.util.concurrent.Future<Long> f : sent) {
          bytes += f.get();
        }
      } catch (java.util.concurrent.ExecutionException e) {
        if (e.getCause() instanceof RuntimeException r) {
          throw r;
        }
        throw new CollectiveException("rank " + rank + ": an upload failed: " + e.getCause(), e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CollectiveException("rank " + rank + ": interrupted while uploading", e);
      }
      return bytes;
    }

    @Override
    public void close() {
      threads.shutdownNow();
    }
  }

  /**
   * Where a step's all-gather delivers the parameters: the network's native memory {@code w} (its
   * {@link FlatVector#nativeView}) when the optimiser is sharded, no max-norm constraint needs the
   * full vector on the heap and {@code w} is one dense float32 vector; else null, the heap vector.
   */
  private static FloatBuffer gatherTarget(CollectiveSpec spec, TrainableNetwork net, INDArray w) {
    return spec.sharded() && !net.rules().maxNorm().isActive() ? FlatVector.nativeView(w) : null;
  }

  /**
   * The chunk bounds of a round's ring for {@code n} parameters: rank r updates {@code [bounds[r],
   * bounds[r + 1])} when the optimiser is sharded (the driver cuts the optimiser state with them).
   */
  public static int[] ringBounds(CollectiveSpec spec, int n) {
    boolean shardRing =
        !spec.shards().isIdentity() && spec.compression().scheme() == Compression.NONE;
    return shardRing
        ? ShardRing.workerBounds(spec.shards(), n)
        : TcpRing.bounds(n, spec.shards().workers());
  }

  static String hostOf(String address) {
    int colon = address.lastIndexOf(':');
    return colon > 0 ? address.substring(0, colon) : address;
  }
}
