package io.spindle.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.bench.ScalingModel.Compression;
import io.spindle.bench.ScalingModel.Kind;
import io.spindle.bench.ScalingModel.Link;
import io.spindle.compress.GradientLayout;
import io.spindle.compress.PowerSgdCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The scaling model against the test bed: calibrated on runs it does not check (one worker alone at
 * two rates, two workers at a rate no link limits) and on {@code bench --profile-collective}, it
 * predicts the samples/s of every run of a {@code spindle bench --network} directory, which this
 * compares with what the runs measured.
 *
 * <p>Calibration ({@link #calibrate}):
 *
 * <ul>
 *   <li>from the profile (one worker alone, thread CPU): the optimiser per value and the per-step
 *       copies (gradient to the ring's array, parameters back);
 *   <li>from the one-worker {@code none} run at the faster rate: compute per example (its compute
 *       less the optimiser and the copies, over B examples);
 *   <li>from each lossy scheme's one-worker run: its codec seconds per step (the engine compresses
 *       with one worker too), else the codec measured on one core;
 *   <li>from the one-worker {@code none} runs at two rates: the round's cost outside the steps
 *       ({@code (wall - compute - ring - codec) x steps}) as {@code a + b x result bytes / rate};
 *   <li>from the two-worker {@code none} run at 10 Gbit/s, where no link limits and the two workers
 *       fill the 2 cores: the shared-host slowdown (its compute against the one-worker figures),
 *       the ring's CPU rate (its ring time less the phases' latency is CPU) and how the round's
 *       cost grows with the executors ({@code a = a0 + E x W / C}: E CPU-seconds of start-up and
 *       commit per executor, spread over the host's C cores);
 *   <li>from the two-worker run of each lossy scheme at the same rate (when given): that scheme's
 *       own shared-host slowdown ({@link Slowdown#PER_SCHEME}, its compute against the one-worker
 *       figures, as for {@code none}); a scheme without such a run has {@code none}'s;
 *   <li>from the two-worker {@code powersgd} run at 10 Gbit/s (when given): the per-phase wait for
 *       time-sliced peers (its ring time, a few kB per phase, over its phases, less the latency).
 * </ul>
 *
 * Predicted per run: {@link ScalingModel#predict} with all N workers on one host of 2 cores ({@link
 * ScalingModel.Hosts#oneHost}), plus the round's cost spread over its steps: {@code a0 + E x N / C
 * + b x (result bytes + shuffle-hop bytes) / link payload rate}, the bytes those of the round
 * protocol ({@link #roundResultBytes}, {@link #roundHopBytes}).
 */
final class BedValidation {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One measured run and the model's prediction for it. */
  record Check(
      String rate,
      int workers,
      String scheme,
      int steps,
      double measuredSamplesPerSecond,
      double predictedSamplesPerSecond,
      ScalingModel.Prediction prediction,
      double roundSecondsPerStep) {
    double error() {
      return predictedSamplesPerSecond / measuredSamplesPerSecond - 1;
    }
  }

  /** A run of the bench directory. */
  record Run(
      String rate,
      double bitsPerSecond,
      int workers,
      Compression scheme,
      int steps,
      int globalBatch,
      double compute,
      double ring,
      double codec,
      double wall,
      double samplesPerSecond,
      double bytes) {
    double roundSeconds() {
      return Math.max(0, wall - compute - ring - codec) * steps;
    }
  }

  /**
   * What {@code bench --profile-collective} measured for one worker alone (thread CPU per step).
   *
   * @param optimizerSecondsPerValue the optimiser over the whole vector, per value
   * @param copySecondsPerStep the gradient copy to the ring's array and the parameter copy-in
   */
  record Profile(double optimizerSecondsPerValue, double copySecondsPerStep) {}

  /**
   * The bed's calibrated costs.
   *
   * @param costs the model's costs (per-round cost not included: {@link #roundSeconds})
   * @param roundFixedSeconds a0: a round's cost that does not grow with its executors or bytes
   * @param roundExecutorCpuSeconds E: CPU seconds of each executor's part of a round's start and
   *     end, spread over the host's cores
   * @param roundLinkFactor b: how many times the round's bytes pass a link at its payload rate
   * @param cores the bed's cores
   */
  record Calibration(
      ScalingModel.Costs costs,
      double roundFixedSeconds,
      double roundExecutorCpuSeconds,
      double roundLinkFactor,
      int cores) {
    /** A round's cost outside its steps for {@code c} over N workers at {@code link}. */
    double roundSeconds(GradientLayout layout, int k, int workers, Compression c, Link link) {
      return roundFixedSeconds
          + roundExecutorCpuSeconds
              * costs.hosts().workersOnAHost(workers)
              / Math.max(1, costs.hosts().coresPerHost())
          + roundLinkFactor
              * (roundResultBytes(layout, k, workers, c) + roundHopBytes(layout, k, workers, c))
              / link.payloadBytesPerSecond();
    }
  }

  /** Which shared-host slowdown the schemes get. */
  enum Slowdown {
    /** Every scheme the one of the two-worker {@code none} run (the model until session 5). */
    SHARED,
    /**
     * Each scheme its own, from its two-worker calibration run at the rate of {@code none}'s; a
     * scheme without one has {@code none}'s.
     */
    PER_SCHEME;

    static Slowdown parse(String s) {
      return switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "shared" -> SHARED;
        case "per-scheme" -> PER_SCHEME;
        default ->
            throw new IllegalArgumentException(
                "--slowdown must be shared or per-scheme, got '" + s + "'");
      };
    }
  }

  private BedValidation() {}

  static List<Run> runs(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException(
          "expected a directory of `spindle bench --network` runs, found no directory " + dir);
    }
    List<Run> out = new ArrayList<>();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path summary :
          files.filter(p -> p.getFileName().toString().equals("summary.json")).sorted().toList()) {
        JsonNode s = JSON.readTree(summary.toFile());
        // DIR/RATE/N-workers/SCHEME/out/summary.json
        Path scheme = summary.getParent().getParent();
        String rate = scheme.getParent().getParent().getFileName().toString();
        out.add(
            new Run(
                rate,
                ScalingCli.bits(rate),
                s.path("workers").asInt(),
                Compression.parse(s.path("compression").asText("none")),
                s.path("steps").asInt(),
                s.path("global_batch").asInt(),
                s.path("compute_seconds_per_step").asDouble(),
                s.path("collective_seconds_per_step").asDouble(),
                s.path("codec_seconds_per_step").asDouble(),
                s.path("wall_seconds_per_step").asDouble(),
                s.path("samples_per_second").asDouble(),
                s.path("bytes_sent_per_worker_per_step").asDouble()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(
          "no run (RATE/N-workers/SCHEME/out/summary.json) under " + dir);
    }
    return out;
  }

  /**
   * The median run of every point (rate, workers, scheme, steps, global batch) of {@code runs},
   * which may hold several repetitions of each: the run whose samples/s is the median (for an even
   * number of repetitions, the lower of the two middle ones), in the order the points first appear.
   * A single run is its own median. The model predicts the point, not a repetition, so the check
   * reads one measured figure per point; a bed whose runs move between repetitions (as the
   * time-sliced powersgd runs on 2 cores do) is checked on its typical run, not its luckiest.
   */
  static List<Run> medians(List<Run> runs) {
    Map<String, List<Run>> points = new LinkedHashMap<>();
    for (Run r : runs) {
      points.computeIfAbsent(pointKey(r), k -> new ArrayList<>()).add(r);
    }
    List<Run> out = new ArrayList<>();
    for (List<Run> reps : points.values()) {
      List<Run> sorted =
          reps.stream().sorted(Comparator.comparingDouble(Run::samplesPerSecond)).toList();
      out.add(sorted.get((sorted.size() - 1) / 2));
    }
    return out;
  }

  /**
   * A table of every point's repetitions: their samples/s in the order given, the spread ({@code
   * max / min - 1}) and the median that {@link #medians} picks.
   */
  static String repetitions(List<Run> runs) {
    Map<String, List<Run>> points = new LinkedHashMap<>();
    for (Run r : runs) {
      points.computeIfAbsent(pointKey(r), k -> new ArrayList<>()).add(r);
    }
    StringBuilder sb = new StringBuilder();
    sb.append(
        "| link | workers | compression | runs | samples/s of each run | spread | median |\n"
            + "|---|---|---|---|---|---|---|\n");
    for (List<Run> reps : points.values()) {
      Run first = reps.get(0);
      double min = reps.stream().mapToDouble(Run::samplesPerSecond).min().orElseThrow();
      double max = reps.stream().mapToDouble(Run::samplesPerSecond).max().orElseThrow();
      Run median = medians(reps).get(0);
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %d | %s | %d | %s | %.1f%% | %,.0f |%n",
              first.rate(),
              first.workers(),
              first.scheme(),
              reps.size(),
              String.join(
                  ", ",
                  reps.stream()
                      .map(r -> String.format(Locale.ROOT, "%,.0f", r.samplesPerSecond()))
                      .toList()),
              100 * (max / min - 1),
              median.samplesPerSecond()));
    }
    return sb.toString();
  }

  private static String pointKey(Run r) {
    return r.rate()
        + "/"
        + r.workers()
        + "/"
        + r.scheme()
        + "/"
        + r.steps()
        + "/"
        + r.globalBatch();
  }

  /**
   * Bytes a round's results carry to the driver (the round protocol of section 4 of
   * docs/network.md): rank 0's parameters and optimiser state ({@code k} blocks per value; with
   * ZeRO-1 every rank's chunk, n values in all) and, with a lossy scheme, every rank's exchange
   * state (its residual, and PowerSGD's warm-started Q factors). Nothing is fetched at a round's
   * start while the executors hold the committed state.
   */
  static double roundResultBytes(GradientLayout layout, int k, int workers, Compression c) {
    double state = 4.0 * layout.length() * (1 + k);
    return c.kind() == Kind.NONE ? state : state + workers * exchangeBytes(layout, c);
  }

  /** One rank's exchange state: its residual and, for PowerSGD, its Q factors. */
  static double exchangeBytes(GradientLayout layout, Compression c) {
    double q =
        c.kind() == Kind.POWERSGD ? new PowerSgdCodec(layout, c.rank(), 0).secondLength() : 0;
    return 4.0 * (layout.length() + q);
  }

  /**
   * Bytes of the results that cross a second link first: the one-partition result shuffle runs on
   * one executor (Spark prefers the one holding the most output: rank 0's), which fetches the other
   * ranks' outputs before returning everything to the driver.
   */
  static double roundHopBytes(GradientLayout layout, int k, int workers, Compression c) {
    return c.kind() == Kind.NONE
        ? 4.0 * layout.length() * k * (workers - 1) / workers
        : exchangeBytes(layout, c) * (workers - 1);
  }

  /**
   * The bed's costs from runs that are not checked: one-worker {@code none} runs at two rates, one
   * one-worker run per lossy scheme, a two-worker {@code none} run at a rate no link limits (and,
   * with {@link Slowdown#PER_SCHEME}, one per lossy scheme), and the profile. The shared-host
   * slowdown is {@code none}'s for all schemes ({@link Slowdown#SHARED}) or each scheme's own.
   *
   * @param codecFallback codec seconds per step on one core, by scheme, for schemes without a
   *     one-worker run that compressed
   */
  static Calibration calibrate(
      List<Run> runs,
      GradientLayout layout,
      int optimizerBlocks,
      double latency,
      double goodput,
      int cores,
      Profile profile,
      Map<String, Double> codecFallback,
      Slowdown slowdowns) {
    long n = layout.length();
    List<Run> alone =
        runs.stream()
            .filter(r -> r.workers() == 1 && r.scheme().kind() == Kind.NONE)
            .sorted(Comparator.comparingDouble(Run::bitsPerSecond))
            .toList();
    if (alone.size() < 2
        || alone.get(0).bitsPerSecond() == alone.get(alone.size() - 1).bitsPerSecond()) {
      throw new IllegalArgumentException(
          "calibration needs one-worker none runs at two rates, found " + alone.size());
    }
    Run slow = alone.get(0);
    Run fast = alone.get(alone.size() - 1);
    double optimizer = profile.optimizerSecondsPerValue();
    double copies = profile.copySecondsPerStep();
    double perExample = (fast.compute() - copies - optimizer * n) / fast.globalBatch();
    // one worker: round seconds = A + b x result bytes / payload rate, A = a0 + E / C
    double xFast =
        roundResultBytes(layout, optimizerBlocks, 1, fast.scheme())
            / (fast.bitsPerSecond() * goodput / 8);
    double xSlow =
        roundResultBytes(layout, optimizerBlocks, 1, slow.scheme())
            / (slow.bitsPerSecond() * goodput / 8);
    double b = (slow.roundSeconds() - fast.roundSeconds()) / (xSlow - xFast);
    double oneWorker = fast.roundSeconds() - b * xFast;
    Map<String, Double> codec = new LinkedHashMap<>(codecFallback);
    for (Run r : runs) {
      if (r.workers() == 1 && r.scheme().kind() != Kind.NONE && r.codec() > 1e-4) {
        codec.put(r.scheme().toString(), r.codec());
      }
    }
    Run two =
        runs.stream()
            .filter(r -> r.workers() == 2 && r.scheme().kind() == Kind.NONE)
            .max(Comparator.comparingDouble(Run::bitsPerSecond))
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "calibration needs a two-worker none run at a rate no link limits"));
    ScalingModel.Hosts plain = ScalingModel.Hosts.oneHost(cores, 0, 0);
    ScalingModel shape =
        new ScalingModel(
            layout,
            1,
            new ScalingModel.Costs(0, 0, 0, 0, Double.POSITIVE_INFINITY, Map.of(), Map.of(), plain),
            false);
    // two workers fill the 2 cores: their compute against one worker's figures
    double slowdown =
        two.compute()
                / (plain.computeStretch(2) * twoAlone(two, shape, copies, perExample, optimizer))
            - 1;
    // each lossy scheme's own, from its two-worker run at the same rate
    Map<String, Double> schemeSlowdowns = new LinkedHashMap<>();
    for (Run r : runs) {
      if (slowdowns == Slowdown.PER_SCHEME
          && r.workers() == 2
          && r.scheme().kind() != Kind.NONE
          && r.bitsPerSecond() == two.bitsPerSecond()) {
        schemeSlowdowns.put(
            r.scheme().toString(),
            r.compute()
                    / (plain.computeStretch(2) * twoAlone(r, shape, copies, perExample, optimizer))
                - 1);
      }
    }
    // the per-phase wait, from a PowerSGD two-worker run at the same rate (its phases carry a few
    // kB), and the ring's CPU rate from the none run: solved together (each run's ring time holds
    // both), a few fixed-point rounds
    Run waits =
        runs.stream()
            .filter(
                r ->
                    r.workers() == 2
                        && r.scheme().kind() == Kind.POWERSGD
                        && r.bitsPerSecond() == two.bitsPerSecond())
            .findFirst()
            .orElse(null);
    double wait = 0;
    double cpuSeconds = two.ring() - shape.phasesPerStep(two.scheme(), 2) * latency;
    for (int round = 0; waits != null && round < 20; round++) {
      double rate = two.bytes() * plain.ringStretch(2) / cpuSeconds;
      double transfer =
          Math.max(
              waits.bytes() / (waits.bitsPerSecond() * goodput / 8),
              waits.bytes() / rate * plain.ringStretch(2));
      double perPhase = (waits.ring() - transfer) / shape.phasesPerStep(waits.scheme(), 2);
      // the wait grows with the stretch of the scheme whose phases waited
      wait =
          Math.max(0, perPhase - latency)
              / (1 + schemeSlowdowns.getOrDefault(waits.scheme().toString(), slowdown));
      cpuSeconds =
          two.ring() - shape.phasesPerStep(two.scheme(), 2) * (latency + wait * (1 + slowdown));
    }
    double linkSeconds = two.bytes() / (two.bitsPerSecond() * goodput / 8);
    if (cpuSeconds <= 1.2 * linkSeconds) {
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "the two-worker ring run at %s took %.1f ms, near its link time %.1f ms: its link, not"
                  + " its CPU, limited it; give a faster rate (10gbit)",
              two.rate(),
              1e3 * two.ring(),
              1e3 * linkSeconds));
    }
    double ringCpuRate = two.bytes() * plain.ringStretch(2) / cpuSeconds;
    // two executors: round = a0 + 2 E / C + b x bytes / rate
    Link twoLink = new Link(two.bitsPerSecond(), goodput, latency);
    double twoBytes =
        (roundResultBytes(layout, optimizerBlocks, 2, two.scheme())
                + roundHopBytes(layout, optimizerBlocks, 2, two.scheme()))
            / twoLink.payloadBytesPerSecond();
    double executorOverCores = two.roundSeconds() - b * twoBytes - oneWorker;
    double executor = executorOverCores * cores;
    double fixed = oneWorker - executorOverCores;
    ScalingModel.Costs costs =
        new ScalingModel.Costs(
            copies,
            perExample,
            optimizer,
            0,
            ringCpuRate,
            codec,
            Map.of(),
            ScalingModel.Hosts.oneHost(cores, slowdown, wait).withSchemeSlowdowns(schemeSlowdowns));
    return new Calibration(costs, fixed, executor, b, cores);
  }

  /**
   * One of two workers' compute per step by the one-worker figures (copies, its half of the batch,
   * the optimiser over its share of the values): what a two-worker run's compute is stretched from.
   */
  private static double twoAlone(
      Run two, ScalingModel shape, double copies, double perExample, double optimizer) {
    long n = shape.layout().length();
    return copies
        + perExample * two.globalBatch() / 2
        + optimizer * (shape.shards(two.scheme()) ? n / 2.0 : n);
  }

  /**
   * One line per scheme: its shared-host slowdown and where it comes from (its own two-worker
   * calibration run, or {@code none}'s when it has none).
   */
  static String slowdowns(Calibration cal, List<Compression> schemes, Slowdown mode) {
    ScalingModel.Hosts h = cal.costs().hosts();
    StringBuilder sb = new StringBuilder();
    for (Compression c : schemes) {
      String source =
          c.kind() == Kind.NONE
              ? "its two-worker calibration run"
              : h.schemeSlowdowns().containsKey(c.toString())
                  ? "its own two-worker calibration run"
                  : mode == Slowdown.SHARED
                      ? "none's: --slowdown shared"
                      : "none's: no two-worker calibration run of " + c;
      sb.append(
          String.format(
              Locale.ROOT, "shared-host slowdown %s: %.3f (%s)%n", c, h.slowdown(c), source));
    }
    return sb.toString();
  }

  /** The model's prediction for every run against what it measured. */
  static List<Check> check(
      List<Run> runs,
      Calibration cal,
      GradientLayout layout,
      int optimizerBlocks,
      double latency,
      double goodput) {
    List<Check> out = new ArrayList<>();
    for (Run r : runs) {
      Link link = new Link(r.bitsPerSecond(), goodput, latency);
      double round = cal.roundSeconds(layout, optimizerBlocks, r.workers(), r.scheme(), link);
      ScalingModel.Costs c = cal.costs();
      ScalingModel model =
          new ScalingModel(
              layout,
              1,
              new ScalingModel.Costs(
                  c.fixedSecondsPerStep(),
                  c.secondsPerExample(),
                  c.optimizerSecondsPerValue(),
                  round / r.steps(),
                  c.ringCpuBytesPerSecond(),
                  c.codecSeconds(),
                  c.epochsToTarget(),
                  c.hosts()),
              false);
      ScalingModel.Prediction p = model.predict(r.scheme(), r.workers(), r.globalBatch(), link);
      out.add(
          new Check(
              r.rate(),
              r.workers(),
              r.scheme().toString(),
              r.steps(),
              r.samplesPerSecond(),
              p.samplesPerSecond(),
              p,
              round / r.steps()));
    }
    return out;
  }

  static String table(List<Check> checks) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        "| link | workers | compression | steps | measured samples/s | predicted | error |"
            + " predicted step ms (compute x stretch, codec, ring, round) |\n"
            + "|---|---|---|---|---|---|---|---|\n");
    for (Check c : checks) {
      ScalingModel.Prediction p = c.prediction();
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %d | %s | %d | %,.0f | %,.0f | %+.1f%% | %.1f (%.1f x %.2f, %.1f, %.1f, %.1f)"
                  + " |%n",
              c.rate(),
              c.workers(),
              c.scheme(),
              c.steps(),
              c.measuredSamplesPerSecond(),
              c.predictedSamplesPerSecond(),
              100 * c.error(),
              1e3 * p.stepSeconds(),
              1e3 * p.computeSeconds() / p.computeStretch(),
              p.computeStretch(),
              1e3 * p.codecSeconds(),
              1e3 * p.commSeconds(),
              1e3 * c.roundSecondsPerStep()));
    }
    return sb.toString();
  }
}
