package io.spindle.bench;

import io.spindle.config.Kernels;
import io.spindle.config.RingTransport;
import io.spindle.config.SpindleConfig;
import io.spindle.config.WireFormat;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.model.StepKey;
import io.spindle.optim.GlobalStep;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.ModelSpec;
import io.spindle.worker.TrainableNetwork;
import io.spindle.worker.collective.GradientExchange;
import io.spindle.worker.collective.TcpRing;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The collective step as the workers of {@code spindle-collective} run it, without Spark: {@code
 * workers} threads in this JVM, each with its own replica ({@link ModelSpec#newNetwork}, so {@code
 * model.kernels} picks the fast kernels or DL4J's layers), its own batches and, with {@code ring},
 * a loopback {@link TcpRing} to the others, doing what {@code CollectiveTrainer.train} does per
 * step: forward and backward, the gradient's copy to the ring's array (with the ring: none, the
 * ring reads the network's gradient), reduce-scatter, the sharded {@link GlobalStep} update,
 * all-gather of the parameters and their copy back into the network (with the ring and no max-norm:
 * none, the all-gather delivers into the network). Each phase is timed in wall time and in the
 * thread's CPU time, so that waiting (for a peer, for a core) shows as wall time without CPU time.
 *
 * <p>Four settings separate the causes of a slow collective step: one worker alone (no ring),
 * {@code workers} workers side by side without the ring (what computing on every core costs), and
 * the full collective step with the ring over loopback TCP ({@code cluster.ringTransport: tcp}) and
 * in process ({@code auto}, what workers that are threads of one executor use).
 */
public final class CollectiveProfile {
  private CollectiveProfile() {}

  /** Phases of one worker's step. */
  enum Phase {
    COMPUTE("forward + backward"),
    COPY_OUT("gradient copy to the ring's array"),
    REDUCE_SCATTER("ring reduce-scatter"),
    UPDATE("optimiser (own shard)"),
    ALL_GATHER("ring all-gather"),
    COPY_IN("parameter copy-in");

    final String label;

    Phase(String label) {
      this.label = label;
    }
  }

  /**
   * Mean milliseconds per step of each phase (wall and thread CPU, the mean over the workers), the
   * mean wall time of a whole step, and the GC time per step in the timed window.
   */
  record Result(
      String setting,
      double[] wallMs,
      double[] cpuMs,
      double stepMs,
      double gcMs,
      double processCpuMs) {
    String markdown() {
      StringBuilder b = new StringBuilder();
      b.append(
          String.format(
              Locale.ROOT,
              "%n%s: %.2f ms per step, GC %.2f ms per step, CPU of the whole JVM %.2f ms per"
                  + " step (all threads: workers, ring senders, JIT, GC)%n",
              setting,
              stepMs,
              gcMs,
              processCpuMs));
      b.append("| phase | wall ms | thread CPU ms |\n|---|---:|---:|\n");
      for (Phase p : Phase.values()) {
        b.append(
            String.format(
                Locale.ROOT,
                "| %s | %.2f | %.2f |%n",
                p.label,
                wallMs[p.ordinal()],
                cpuMs[p.ordinal()]));
      }
      return b.toString();
    }
  }

  /** Runs the four settings with {@code kernels}, printing a table each; returns them. */
  static List<Result> run(
      SpindleConfig config,
      Kernels kernels,
      List<Example> train,
      int numClasses,
      int workers,
      int warmup,
      int steps,
      java.io.PrintStream console) {
    List<Result> results = new ArrayList<>();
    RingTransport[] rings = {null, null, RingTransport.TCP, RingTransport.AUTO};
    for (int s = 0; s < rings.length; s++) {
      Result r =
          run(
              config,
              kernels,
              train,
              numClasses,
              s == 0 ? 1 : workers,
              workers,
              rings[s],
              warmup,
              steps);
      console.print(r.markdown());
      console.flush();
      results.add(r);
    }
    return results;
  }

  static Result run(
      SpindleConfig config,
      Kernels kernels,
      List<Example> train,
      int numClasses,
      int threads,
      int shards,
      RingTransport transport,
      int warmup,
      int steps) {
    boolean ring = transport != null;
    int batch = config.training().batchSize() / shards;
    int numInputs = train.get(0).features().length;
    ModelSpec spec =
        new ModelSpec(
            config.model().withKernels(kernels),
            config.optimizer(),
            numInputs,
            numClasses,
            config.training().seed(),
            1);
    byte[] secret = "spindle-collective-profile".getBytes(StandardCharsets.UTF_8);
    List<TcpRing> rings = new ArrayList<>();
    List<String> endpoints = new ArrayList<>();
    if (ring) {
      for (int r = 0; r < threads; r++) {
        TcpRing t = TcpRing.bind("127.0.0.1", r, threads, WireFormat.FP32, 1L, 60_000, transport);
        rings.add(t);
        endpoints.add(t.endpoint());
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    long gcBefore = 0;
    try {
      List<Future<long[][]>> done = new ArrayList<>();
      java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
      long[] gc = new long[4];
      for (int r = 0; r < threads; r++) {
        int rank = r;
        done.add(
            pool.submit(
                () ->
                    worker(
                        spec,
                        config,
                        train,
                        batch,
                        rank,
                        threads,
                        ring ? rings.get(rank) : null,
                        endpoints,
                        secret,
                        warmup,
                        steps,
                        start,
                        gc)));
      }
      double[] wall = new double[Phase.values().length];
      double[] cpu = new double[wall.length];
      double step = 0;
      for (Future<long[][]> f : done) {
        long[][] t = f.get();
        for (int p = 0; p < wall.length; p++) {
          wall[p] += t[0][p] / 1e6 / steps / threads;
          cpu[p] += t[1][p] / 1e6 / steps / threads;
        }
        step = Math.max(step, t[2][0] / 1e6 / steps);
      }
      String name =
          String.format(
              Locale.ROOT,
              "%s kernels, %d worker(s) of %d examples%s",
              kernels.configName(),
              threads,
              batch,
              transport == RingTransport.TCP
                  ? ", with the loopback TCP ring"
                  : transport == RingTransport.AUTO
                      ? ", with the in-process ring"
                      : threads > 1 ? " side by side, no ring" : ", alone");
      return new Result(
          name, wall, cpu, step, (gc[1] - gc[0]) / 1.0 / steps, (gc[3] - gc[2]) / 1e6 / steps);
    } catch (Exception e) {
      throw new IllegalStateException("profile: the collective step failed: " + e, e);
    } finally {
      for (TcpRing t : rings) {
        t.close();
      }
      pool.shutdownNow();
    }
  }

  private static long processCpuNanos() {
    return ManagementFactory.getOperatingSystemMXBean()
            instanceof com.sun.management.OperatingSystemMXBean os
        ? os.getProcessCpuTime()
        : 0;
  }

  private static long gcMillis() {
    long sum = 0;
    for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
      sum += Math.max(0, b.getCollectionTime());
    }
    return sum;
  }

  private static long[][] worker(
      ModelSpec spec,
      SpindleConfig config,
      List<Example> train,
      int batch,
      int rank,
      int workers,
      TcpRing ring,
      List<String> endpoints,
      byte[] secret,
      int warmup,
      int steps,
      java.util.concurrent.CyclicBarrier start,
      long[] gc)
      throws Exception {
    Nd4jRuntime.configureThreads(1);
    if (ring != null) {
      ring.connect(endpoints, secret, 1L);
    }
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    TrainableNetwork net = spec.newNetwork();
    int numInputs = spec.numInputs();
    List<MiniBatch> batches = new ArrayList<>();
    int count = (train.size() / batch) / workers;
    for (int i = 0; i < Math.min(count, 64); i++) {
      int from = (i * workers + rank) * batch;
      batches.add(MiniBatch.of(i, numInputs, train.subList(from, from + batch)));
    }
    if (batches.isEmpty()) {
      throw new IllegalArgumentException(
          "profile: " + train.size() + " examples give no batch of " + batch + " per worker");
    }
    org.nd4j.linalg.api.ndarray.INDArray w = net.params();
    int n = (int) w.length();
    int[] bounds = TcpRing.bounds(n, workers);
    int from = bounds[rank];
    int to = bounds[rank + 1];
    float[] values = FlatVector.copyOf(w).toFloatArray();
    GlobalStep update = GlobalStep.create(config.optimizer(), net.rules(), from, to);
    float[] gradient = new float[n];
    long[] wall = new long[Phase.values().length];
    long[] cpu = new long[wall.length];
    long stepStart = 0;
    for (int s = 0; s < warmup + steps; s++) {
      if (s == warmup) {
        start.await();
        java.util.Arrays.fill(wall, 0);
        java.util.Arrays.fill(cpu, 0);
        if (rank == 0) {
          gc[0] = gcMillis();
          gc[2] = processCpuNanos();
        }
        stepStart = System.nanoTime();
      }
      MiniBatch b = batches.get(s % batches.size());
      long w0 = System.nanoTime();
      long c0 = mx.getCurrentThreadCpuTime();
      net.computeGradient(b, new StepKey(config.training().seed(), s, rank * batch));
      long w1 = System.nanoTime();
      long c1 = mx.getCurrentThreadCpuTime();
      // with the ring, as CollectiveTrainer: the ring reads the gradient from the network
      FloatBuffer local = ring == null ? null : FlatVector.nativeView(net.gradient());
      if (local == null) {
        FlatVector.copyOut(net.gradient(), gradient, 0);
      }
      long w2 = System.nanoTime();
      long c2 = mx.getCurrentThreadCpuTime();
      if (ring != null) {
        ring.reduceScatter(gradient, local, bounds, s);
      }
      long w3 = System.nanoTime();
      long c3 = mx.getCurrentThreadCpuTime();
      update.update(values, gradient, (long) batch * workers, s);
      long w4 = System.nanoTime();
      long c4 = mx.getCurrentThreadCpuTime();
      // with the ring and no max-norm, as CollectiveTrainer: the parameters go straight into the
      // network (this rank's chunk included)
      FloatBuffer into =
          ring == null || net.rules().maxNorm().isActive() ? null : FlatVector.nativeView(w);
      if (ring != null) {
        ring.allGather(values, into, bounds, s, GradientExchange.PARAMETERS_TAG, WireFormat.FP32);
      }
      long w5 = System.nanoTime();
      long c5 = mx.getCurrentThreadCpuTime();
      if (into == null) {
        update.constrain(values);
        FlatVector.copyInto(values, 0, n, w, 0);
      }
      long w6 = System.nanoTime();
      long c6 = mx.getCurrentThreadCpuTime();
      long[] ws = {w0, w1, w2, w3, w4, w5, w6};
      long[] cs = {c0, c1, c2, c3, c4, c5, c6};
      for (int p = 0; p < wall.length; p++) {
        wall[p] += ws[p + 1] - ws[p];
        cpu[p] += cs[p + 1] - cs[p];
      }
    }
    long total = System.nanoTime() - stepStart;
    if (rank == 0) {
      gc[1] = gcMillis();
      gc[3] = processCpuNanos();
    }
    return new long[][] {wall, cpu, {total}};
  }
}
