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
 *               the optimiser state is sharded (ZeRO-1), else n)),  s = max(1, N / shared cores)
 *               on one machine (the test bed), s = 1 on a cluster
 *   t_comm    = phases * latency + bytes / min(link payload rate, ring CPU rate)
 *   samples/s = B / t_step;   time to target = epochsToTarget * examplesPerEpoch / samples/s
 * </pre>
 *
 * Bytes and phases per worker and step, with the ring's exact chunking and headers ({@link
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
 * phase costs its latency plus its bytes at the slower of the link and the ring's CPU rate; all
 * links carry their phase at once (one full-duplex switch port per host, non-blocking switch);
 * compute per example does not depend on N; epochs to the target accuracy do not depend on N (exact
 * for a fixed global batch without compression, an assumption with error feedback and for growing
 * global batches).
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
   * @param ringCpuBytesPerSecond the ring's own ceiling (copy, sum, syscalls) where links are
   *     faster
   * @param codecSeconds compression compute per step, by {@link Compression#toString()}
   * @param epochsToTarget epochs to the target accuracy, by compression (absent: unknown)
   * @param sharedCores 0 when every worker has its own core (a cluster); else the cores all workers
   *     share (the test bed: 2), so compute stretches by {@code max(1, N / sharedCores)}
   */
  record Costs(
      double fixedSecondsPerStep,
      double secondsPerExample,
      double optimizerSecondsPerValue,
      double otherSecondsPerStep,
      double ringCpuBytesPerSecond,
      Map<String, Double> codecSeconds,
      Map<String, Double> epochsToTarget,
      int sharedCores) {
    Costs {
      codecSeconds = Map.copyOf(codecSeconds);
      epochsToTarget = Map.copyOf(epochsToTarget);
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
    double stretch =
        costs.sharedCores() > 0 ? Math.max(1.0, (double) workers / costs.sharedCores()) : 1;
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
    double rate = Math.min(link.payloadBytesPerSecond(), costs.ringCpuBytesPerSecond());
    double comm = phases * link.latencySeconds() + bytes / rate;
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
        compute,
        codec,
        comm,
        other,
        step,
        samples,
        epochs == null ? null : epochs * examplesPerEpoch / samples);
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
    double stretch =
        base.sharedCores() > 0 ? Math.max(1.0, (double) workers / base.sharedCores()) : 1;
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
        base.sharedCores());
  }

  /**
   * The per-phase latency that makes the model's ring time match a measured run's (what the
   * engine's ring adds per message beyond bytes at the link's rate, waiting for the slower peer
   * included).
   */
  static double effectiveLatency(
      GradientLayout layout, Compression c, int workers, MeasuredStep run, Link link, Costs costs) {
    ScalingModel shape = new ScalingModel(layout, 1, costs, false);
    double rate = Math.min(link.payloadBytesPerSecond(), costs.ringCpuBytesPerSecond());
    double bytesTime = run.bytesPerWorkerPerStep() / rate;
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
