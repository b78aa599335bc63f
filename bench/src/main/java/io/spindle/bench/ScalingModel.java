package io.spindle.bench;

import io.spindle.compress.GradientLayout;
import io.spindle.compress.PowerSgdCodec;
import io.spindle.compress.TopKCodec;
import java.util.Locale;
import java.util.Map;

/**
 * Predicts the collective engine's step time, samples/s and time to a target accuracy for N workers
 * over links of a given rate and latency, with or without gradient compression.
 *
 * <p>Per step (one global batch B, N workers, n parameters):
 *
 * <pre>
 *   t_step    = t_compute + t_codec + t_comm + t_other
 *   t_compute = s * (fixed + secondsPerExample * B / N + optimizerSecondsPerValue * (n / N if
 *               the optimiser state is sharded (ZeRO-1), else n))
 *   t_codec   = s * codecSeconds
 *   t_comm    = phases * (latency + w) + max(bytes / link payload rate, bytes / ring CPU rate * r)
 *   samples/s = B / t_step;   time to target = epochsToTarget * examplesPerEpoch / samples/s
 * </pre>
 *
 * The CPU term ({@link Hosts}): W = the workers on one host, C = its cores. Each worker computes
 * (and compresses) on one thread. While W < C, the host's other work (JIT and GC threads, the
 * executors' and Spark's other threads, the kernel) finds an idle core: {@code s = 1}. When the
 * workers fill the cores, they share them with that work, and when they outnumber the cores they
 * time-slice: {@code s = max(1, W / C) x (1 + sharedHostSlowdown)}, the slowdown measured on the
 * host with W = C (not fitted to the runs the model predicts), per scheme where its own figure is
 * known ({@link Hosts#schemeSlowdowns}): what runs beside the compute differs between schemes. The
 * ring's own CPU (encode, copies through heap and direct buffers, syscalls, the kernel's TCP, the
 * neighbour's decode and sum) runs on two threads per worker (the caller and the ring's sender) and
 * overlaps the link (blocks of 65,536 values, a sender thread): its wall is {@code bytes / ring CPU
 * rate * r}, {@code r = max(1, 2 W / C)}, where the ring CPU rate is what one worker's ring moves
 * with two cores of its own. Once the workers fill the cores, each ring phase also waits for its
 * peer's thread to be scheduled: the phase latency grows by {@code phaseWait x s}. On a cluster
 * ({@link Hosts#CLUSTER}: one worker per host, cores for its threads) s = r = 1 and there is no
 * wait; on the test bed all N workers share one host of 2 cores.
 *
 * <p>Bytes and phases per worker and step, with the ring's exact chunking and headers ({@link
 * RingCost}):
 *
 * <ul>
 *   <li>{@code none}: one all-reduce of n fp32 values, 2 (N-1)/N x 4n bytes, 2 (N-1) phases (with
 *       ZeRO-1, its default, it is a reduce-scatter of gradients and an all-gather of parameters:
 *       the same).
 *   <li>{@code bf16}: the same with 2 bytes per value when replicated; with ZeRO-1 the gradients'
 *       reduce-scatter in bf16 and the parameters' all-gather in fp32.
 *   <li>{@code powersgd}: two all-reduces, of the P factors with the uncompressed vectors and of
 *       the Q factors ({@link PowerSgdCodec#firstLength()}, {@link PowerSgdCodec#secondLength()}):
 *       4 (N-1) phases.
 *   <li>{@code topk}: one all-gather of every worker's k (index, value) pairs: (N-1) x 8k bytes,
 *       N-1 phases. Grows with N, unlike the ring all-reduce.
 *   <li>Compressed schemes with a sharded optimiser add an all-gather of the new parameters
 *       ((N-1)/N x 4n bytes, N-1 phases); the default for them is a replicated optimiser (every
 *       worker applies the same decompressed sum), which sends nothing more.
 * </ul>
 *
 * Assumptions: communication does not overlap computation (the engine runs the ring after the whole
 * backward pass); sending overlaps receiving and summing within the ring (its sender thread), so a
 * phase costs its latency plus its bytes at the slower of the link and the ring's CPU rate (on its
 * share of the host's cores); all links carry their phase at once (one full-duplex switch port per
 * host, non-blocking switch); compute per example does not depend on N; epochs to the target
 * accuracy do not depend on N (exact for a fixed global batch without compression, an assumption
 * with error feedback and for growing global batches).
 */
final class ScalingModel {
  /** How gradients travel. */
  enum Kind {
    NONE,
    BF16,
    POWERSGD,
    TOPK
  }

  /**
   * A compression scheme: {@code none}, {@code bf16}, {@code powersgd:R} (rank), {@code topk:F}
   * (fraction).
   */
  record Compression(Kind kind, int rank, double fraction) {
    static Compression parse(String s) {
      String[] p = s.trim().toLowerCase(Locale.ROOT).split(":");
      try {
        return switch (p[0]) {
          case "none" -> new Compression(Kind.NONE, 0, 0);
          case "bf16" -> new Compression(Kind.BF16, 0, 0);
          case "powersgd" ->
              new Compression(Kind.POWERSGD, p.length > 1 ? Integer.parseInt(p[1]) : 4, 0);
          case "topk" ->
              new Compression(Kind.TOPK, 0, p.length > 1 ? Double.parseDouble(p[1]) : 0.01);
          default -> throw new IllegalArgumentException("unknown");
        };
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "compression must be none, bf16, powersgd[:RANK] or topk[:FRACTION], got '" + s + "'");
      }
    }

    @Override
    public String toString() {
      return switch (kind) {
        case NONE -> "none";
        case BF16 -> "bf16";
        case POWERSGD -> "powersgd:" + rank;
        case TOPK -> "topk:" + fraction;
      };
    }
  }

  /**
   * A link between a host and the switch.
   *
   * @param bitsPerSecond line rate
   * @param goodput payload share of the line rate (TCP over Ethernet at MTU 1500: 1448/1514 =
   *     0.956, measured 0.959-0.965 on the test bed)
   * @param latencySeconds cost of one ring phase beyond its bytes: the network's one-way latency
   *     plus the ring's software overhead per message (measured on the bed with a one-value
   *     all-reduce)
   */
  record Link(double bitsPerSecond, double goodput, double latencySeconds) {
    double payloadBytesPerSecond() {
      return bitsPerSecond * goodput / 8;
    }
  }

  /**
   * What one machine's worker costs, measured.
   *
   * @param fixedSecondsPerStep compute per step that does not depend on the batch
   * @param secondsPerExample forward and backward per example
   * @param optimizerSecondsPerValue the optimiser step per parameter it updates
   * @param otherSecondsPerStep per-step time outside compute and the ring (wall - compute - ring)
   * @param ringCpuBytesPerSecond bytes per second one worker's ring moves when its CPU, not the
   *     link, limits it and its two threads have cores of their own: {@code 2 / (ring CPU seconds
   *     per byte sent)}; infinite when the ring's CPU is not modelled
   * @param codecSeconds compression compute per step on one core, by {@link Compression#toString()}
   * @param epochsToTarget epochs to the target accuracy, by compression (absent: unknown)
   * @param hosts where the workers run (the CPU term)
   */
  record Costs(
      double fixedSecondsPerStep,
      double secondsPerExample,
      double optimizerSecondsPerValue,
      double otherSecondsPerStep,
      double ringCpuBytesPerSecond,
      Map<String, Double> codecSeconds,
      Map<String, Double> epochsToTarget,
      Hosts hosts) {
    Costs {
      if (!(ringCpuBytesPerSecond > 0)) {
        throw new IllegalArgumentException(
            "ringCpuBytesPerSecond must be > 0 (infinite: not modelled), got "
                + ringCpuBytesPerSecond);
      }
      codecSeconds = Map.copyOf(codecSeconds);
      epochsToTarget = Map.copyOf(epochsToTarget);
    }
  }

  /**
   * Where the workers run: the CPU term's parameters.
   *
   * @param coresPerHost cores of one host; 0 when every worker has cores for all its threads (a
   *     cluster sized for the job)
   * @param workersPerHost workers on one host; 0 when all N workers share one host (the test bed)
   * @param sharedHostSlowdown extra stretch of compute, beyond {@code max(1, W / C)}, once a host's
   *     workers fill its cores: its other work (JIT, GC, other threads and processes, the kernel)
   *     and time slicing take from them (on the test bed: a two-worker run against one worker
   *     alone)
   * @param phaseWaitSeconds once a host's workers fill its cores, what each ring phase waits for
   *     its peer's thread per unit of compute stretch: {@code w = phaseWaitSeconds x s} (on the
   *     test bed: a two-worker PowerSGD run at 10 Gbit/s, whose phases carry a few kB)
   * @param schemeSlowdowns the shared-host slowdown of a scheme whose own figure differs from
   *     {@code sharedHostSlowdown}, by {@link Compression#toString()}: how much a host's other work
   *     takes from the workers depends on what runs beside their compute (a {@code none} ring moves
   *     5 MB per step through the kernel, a PowerSGD ring 39 kB); on the test bed each from that
   *     scheme's own two-worker run. A scheme absent here has {@code sharedHostSlowdown}.
   */
  record Hosts(
      int coresPerHost,
      int workersPerHost,
      double sharedHostSlowdown,
      double phaseWaitSeconds,
      Map<String, Double> schemeSlowdowns) {
    /** Threads of one worker's ring that can run at once: the caller and the ring's sender. */
    static final int RING_THREADS = 2;

    /** One worker per host, with cores for its threads. */
    static final Hosts CLUSTER = new Hosts(0, 1, 0, 0);

    Hosts {
      if (coresPerHost < 0
          || workersPerHost < 0
          || !(sharedHostSlowdown > -1)
          || !(phaseWaitSeconds >= 0)) {
        throw new IllegalArgumentException(
            "hosts need coresPerHost >= 0, workersPerHost >= 0, sharedHostSlowdown > -1 and"
                + " phaseWaitSeconds >= 0, got "
                + coresPerHost
                + ", "
                + workersPerHost
                + ", "
                + sharedHostSlowdown
                + ", "
                + phaseWaitSeconds);
      }
      for (Map.Entry<String, Double> e : schemeSlowdowns.entrySet()) {
        if (!(e.getValue() > -1)) {
          throw new IllegalArgumentException(
              "the shared-host slowdown of " + e.getKey() + " must be > -1, got " + e.getValue());
        }
      }
      schemeSlowdowns = Map.copyOf(schemeSlowdowns);
    }

    /** Every scheme with the same shared-host slowdown. */
    Hosts(
        int coresPerHost, int workersPerHost, double sharedHostSlowdown, double phaseWaitSeconds) {
      this(coresPerHost, workersPerHost, sharedHostSlowdown, phaseWaitSeconds, Map.of());
    }

    /** All N workers on one host of {@code cores} cores (the test bed: 2). */
    static Hosts oneHost(int cores, double sharedHostSlowdown, double phaseWaitSeconds) {
      return new Hosts(cores, 0, sharedHostSlowdown, phaseWaitSeconds);
    }

    /** These hosts with a slowdown of their own for the schemes in {@code bySchemes}. */
    Hosts withSchemeSlowdowns(Map<String, Double> byScheme) {
      return new Hosts(
          coresPerHost, workersPerHost, sharedHostSlowdown, phaseWaitSeconds, byScheme);
    }

    /** The shared-host slowdown of {@code c}: its own figure, else {@code sharedHostSlowdown}. */
    double slowdown(Compression c) {
      return schemeSlowdowns.getOrDefault(c.toString(), sharedHostSlowdown);
    }

    /** Workers on the busiest host. */
    int workersOnAHost(int workers) {
      return workersPerHost == 0 ? workers : Math.min(workers, workersPerHost);
    }

    /** Hosts the N workers occupy. */
    int hosts(int workers) {
      int w = workersOnAHost(workers);
      return (workers + w - 1) / w;
    }

    /** Cores of all hosts together; 0 when not limited. */
    int totalCores(int workers) {
      return coresPerHost * hosts(workers);
    }

    /**
     * How much longer one worker's single-threaded compute takes on its shared host, with the
     * shared slowdown (the one every scheme has unless {@link #schemeSlowdowns} gives its own).
     */
    double computeStretch(int workers) {
      return stretch(workers, sharedHostSlowdown);
    }

    /**
     * How much longer one worker's compute (and codec) takes on its shared host under {@code c}.
     */
    double computeStretch(int workers, Compression c) {
      return stretch(workers, slowdown(c));
    }

    private double stretch(int workers, double slowdown) {
      double w = workersOnAHost(workers);
      return coresPerHost == 0 || w < coresPerHost ? 1 : w / coresPerHost * (1 + slowdown);
    }

    /** One ring phase's latency: the link's, plus the wait for time-sliced peers. */
    double phaseLatency(int workers, double linkLatencySeconds) {
      return phaseLatency(workers, linkLatencySeconds, computeStretch(workers));
    }

    /** One ring phase's latency under {@code c}: the wait grows with that scheme's stretch. */
    double phaseLatency(int workers, double linkLatencySeconds, Compression c) {
      return phaseLatency(workers, linkLatencySeconds, computeStretch(workers, c));
    }

    private double phaseLatency(int workers, double linkLatencySeconds, double stretch) {
      boolean full = coresPerHost > 0 && workersOnAHost(workers) >= coresPerHost;
      return linkLatencySeconds + (full ? phaseWaitSeconds * stretch : 0);
    }

    /** How much longer the ring's CPU work takes on its shared host. */
    double ringStretch(int workers) {
      return coresPerHost == 0
          ? 1
          : Math.max(1, (double) RING_THREADS * workersOnAHost(workers) / coresPerHost);
    }
  }

  /** One prediction; times in seconds per step. */
  record Prediction(
      Compression compression,
      int workers,
      int globalBatch,
      double bitsPerSecond,
      double bytesPerWorkerPerStep,
      int phases,
      double computeStretch,
      double computeSeconds,
      double codecSeconds,
      double commSeconds,
      double otherSeconds,
      double stepSeconds,
      double samplesPerSecond,
      Double timeToTargetSeconds) {}

  private final GradientLayout layout;
  private final long examplesPerEpoch;
  private final Costs costs;
  private final boolean shardCompressed;

  /**
   * @param layout the model's flat gradient (its size and, for PowerSGD, its matrices)
   * @param examplesPerEpoch training examples per epoch
   * @param costs the measured costs
   * @param shardCompressed whether compressed schemes keep ZeRO-1 (then parameters are all-gathered
   *     in fp32 every step)
   */
  ScalingModel(GradientLayout layout, long examplesPerEpoch, Costs costs, boolean shardCompressed) {
    this.layout = layout;
    this.examplesPerEpoch = examplesPerEpoch;
    this.costs = costs;
    this.shardCompressed = shardCompressed;
  }

  GradientLayout layout() {
    return layout;
  }

  Costs costs() {
    return costs;
  }

  /** Bytes a worker sends per step with {@code c} over {@code workers} ranks, headers included. */
  double bytesPerWorkerPerStep(Compression c, int workers) {
    long n = layout.length();
    double params = shards(c) ? RingCost.halfAllReduceBytes(n, workers, 4) : 0;
    return switch (c.kind()) {
      case NONE -> RingCost.allReduceBytes(n, workers, 4);
      case BF16 ->
          shards(c)
              ? RingCost.halfAllReduceBytes(n, workers, 2) + params
              : RingCost.allReduceBytes(n, workers, 2);
      case POWERSGD -> {
        PowerSgdCodec codec = new PowerSgdCodec(layout, c.rank(), 0);
        yield RingCost.allReduceBytes(codec.firstLength(), workers, 4)
            + RingCost.allReduceBytes(codec.secondLength(), workers, 4)
            + params;
      }
      case TOPK ->
          RingCost.allGatherBytes(new TopKCodec(layout, c.fraction()).wireLength(), workers, 4)
              + params;
    };
  }

  /** Ring message phases per step. */
  int phasesPerStep(Compression c, int workers) {
    int params = shards(c) ? RingCost.halfPhases(workers) : 0;
    return switch (c.kind()) {
      case NONE, BF16 -> RingCost.allReducePhases(workers);
      case POWERSGD -> 2 * RingCost.allReducePhases(workers) + params;
      case TOPK -> RingCost.halfPhases(workers) + params;
    };
  }

  /**
   * Whether the optimiser state is sharded (ZeRO-1) under {@code c}: always for {@code none} (the
   * default), for the lossy schemes as constructed ({@code spindle bench --network} runs them
   * replicated).
   */
  boolean shards(Compression c) {
    return c.kind() == Kind.NONE || shardCompressed;
  }

  /** The prediction for {@code workers} workers sharing a global batch of {@code globalBatch}. */
  Prediction predict(Compression c, int workers, int globalBatch, Link link) {
    if (workers < 1 || globalBatch < workers) {
      throw new IllegalArgumentException(
          "need 1 <= workers <= global batch, got "
              + workers
              + " workers for a global batch of "
              + globalBatch);
    }
    long n = layout.length();
    double stretch = costs.hosts().computeStretch(workers, c);
    double compute =
        stretch
            * (costs.fixedSecondsPerStep()
                + costs.secondsPerExample() * globalBatch / workers
                + costs.optimizerSecondsPerValue() * (shards(c) ? (double) n / workers : n));
    double codec =
        workers < 2 || c.kind() == Kind.NONE
            ? 0
            : stretch * costs.codecSeconds().getOrDefault(c.toString(), 0.0);
    double bytes = bytesPerWorkerPerStep(c, workers);
    int phases = phasesPerStep(c, workers);
    double comm =
        phases * costs.hosts().phaseLatency(workers, link.latencySeconds(), c)
            + transferSeconds(bytes, workers, link);
    double other = workers < 2 ? 0 : costs.otherSecondsPerStep();
    double step = compute + codec + comm + other;
    double samples = globalBatch / step;
    Double epochs = costs.epochsToTarget().get(c.toString());
    return new Prediction(
        c,
        workers,
        globalBatch,
        link.bitsPerSecond(),
        bytes,
        phases,
        stretch,
        compute,
        codec,
        comm,
        other,
        step,
        samples,
        epochs == null ? null : epochs * examplesPerEpoch / samples);
  }

  /**
   * Seconds a worker's ring needs for {@code bytes} beyond its phases' latency: the slower of the
   * link (at its payload rate) and the ring's CPU on its share of the host's cores. The two overlap
   * (the ring sends block by block from its own thread while the caller receives and sums), so the
   * slower one sets the time.
   */
  double transferSeconds(double bytes, int workers, Link link) {
    double onTheLink = bytes / link.payloadBytesPerSecond();
    double onTheCpu = bytes / costs.ringCpuBytesPerSecond() * costs.hosts().ringStretch(workers);
    return Math.max(onTheLink, onTheCpu);
  }

  /**
   * What one measured collective run tells about the costs, with compute split by a single point
   * (fixed = 0): the ring's counted bytes must agree with {@link #bytesPerWorkerPerStep} within
   * 0.5%, else the model does not describe the run and this throws.
   *
   * @param run the run's facts ({@code summary.json}: compute, collective and wall seconds per
   *     step, bytes per worker per step)
   * @param link the link the run had
   * @return the costs with {@code secondsPerExample} (optimizer share removed) and {@code
   *     otherSecondsPerStep} from the run, the rest from {@code base}
   */
  static Costs calibrate(
      GradientLayout layout,
      Compression c,
      int workers,
      int globalBatch,
      MeasuredStep run,
      Costs base,
      boolean shardCompressed) {
    ScalingModel shape = new ScalingModel(layout, 1, base, shardCompressed);
    double expected = shape.bytesPerWorkerPerStep(c, workers);
    if (Math.abs(run.bytesPerWorkerPerStep() - expected) > 0.005 * expected) {
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "the run counted %.0f bytes per worker per step; the ring model gives %.0f for %s at"
                  + " %d workers: it does not describe this run",
              run.bytesPerWorkerPerStep(),
              expected,
              c,
              workers));
    }
    double optimizer =
        base.optimizerSecondsPerValue()
            * (shape.shards(c) ? (double) layout.length() / workers : layout.length());
    double codec = c.kind() == Kind.NONE ? 0 : base.codecSeconds().getOrDefault(c.toString(), 0.0);
    double stretch = base.hosts().computeStretch(workers, c);
    double perExample =
        (run.computeSecondsPerStep() / stretch - base.fixedSecondsPerStep() - optimizer - codec)
            / ((double) globalBatch / workers);
    double other =
        Math.max(
            0, run.wallSecondsPerStep() - run.computeSecondsPerStep() - run.ringSecondsPerStep());
    return new Costs(
        base.fixedSecondsPerStep(),
        perExample,
        base.optimizerSecondsPerValue(),
        other,
        base.ringCpuBytesPerSecond(),
        base.codecSeconds(),
        base.epochsToTarget(),
        base.hosts());
  }

  /**
   * The per-phase latency that makes the model's ring time match a measured run's (what the
   * engine's ring adds per message beyond bytes at the link's rate, waiting for the slower peer
   * included).
   */
  static double effectiveLatency(
      GradientLayout layout, Compression c, int workers, MeasuredStep run, Link link, Costs costs) {
    ScalingModel shape = new ScalingModel(layout, 1, costs, false);
    double bytesTime = shape.transferSeconds(run.bytesPerWorkerPerStep(), workers, link);
    return Math.max(0, (run.ringSecondsPerStep() - bytesTime) / shape.phasesPerStep(c, workers));
  }

  /**
   * A run's per-step facts, as {@code summary.json} gives them ({@code compute_seconds_per_step},
   * {@code collective_seconds_per_step}, {@code wall_seconds_per_step}, {@code
   * bytes_sent_per_worker_per_step}).
   */
  record MeasuredStep(
      double computeSecondsPerStep,
      double ringSecondsPerStep,
      double wallSecondsPerStep,
      double bytesPerWorkerPerStep) {}
}
