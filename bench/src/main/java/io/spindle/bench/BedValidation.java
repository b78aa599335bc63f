package io.spindle.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.bench.ScalingModel.Compression;
import io.spindle.bench.ScalingModel.Kind;
import io.spindle.bench.ScalingModel.Link;
import io.spindle.compress.GradientLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The scaling model against the test bed: calibrated on two-worker runs, it predicts the samples/s
 * of every run of a {@code spindle bench --network} directory, which this compares with what the
 * runs measured.
 *
 * <p>Calibration (all from two-worker runs; nothing from a run with 3 or 4 workers):
 *
 * <ul>
 *   <li>compute per example: the {@code none} run at the fastest rate ({@code
 *       compute_seconds_per_step} = forward, backward and optimiser of B/2 examples);
 *   <li>codec seconds per step of each scheme: its two-worker run at the fastest rate;
 *   <li>the per-round cost outside the steps ({@code wall - compute - ring - codec}, times the
 *       steps of the round): {@code a + b / rate} from the {@code none} runs at two rates, its link
 *       part scaled by the bytes a round moves through the driver's link (see {@link #roundBytes}).
 * </ul>
 *
 * Predicted per step: {@code s (compute + codec) + ring + round / steps}, with {@code s = max(1, N
 * / 2)} (the bed's workers share 2 cores), the ring's bytes and phases from {@link RingCost} at the
 * link's payload rate plus the bed's measured phase latency.
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
      boolean calibration) {
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

  private BedValidation() {}

  static List<Run> runs(Path dir) {
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
    return out;
  }

  /**
   * Bytes a round moves through the driver's link: the parameters and optimiser state ({@code k}
   * blocks per value) to each of N executors and back once, and with a lossy scheme every worker's
   * exchange state (4n) both ways.
   */
  static double roundBytes(long n, int k, int workers, Compression c) {
    double state = 4.0 * n * (1 + k);
    double exchange = c.kind() == Kind.NONE ? 0 : 2.0 * workers * 4 * n;
    return workers * state + state + exchange;
  }

  static List<Check> check(
      List<Run> runs, GradientLayout layout, int optimizerBlocks, double latency, double goodput) {
    Run fast =
        runs.stream()
            .filter(r -> r.workers() == 2 && r.scheme().kind() == Kind.NONE)
            .max((a, b) -> Double.compare(a.bitsPerSecond(), b.bitsPerSecond()))
            .orElseThrow(() -> new IllegalArgumentException("no two-worker none run"));
    Run slow =
        runs.stream()
            .filter(r -> r.workers() == 2 && r.scheme().kind() == Kind.NONE)
            .min((a, b) -> Double.compare(a.bitsPerSecond(), b.bitsPerSecond()))
            .orElseThrow();
    if (fast.bitsPerSecond() == slow.bitsPerSecond()) {
      throw new IllegalArgumentException("calibration needs two-worker none runs at two rates");
    }
    long n = layout.length();
    double base = roundBytes(n, optimizerBlocks, 2, fast.scheme());
    // round seconds = a + b * (bytes / base) / payload rate
    double xFast = base / (fast.bitsPerSecond() * goodput / 8);
    double xSlow = base / (slow.bitsPerSecond() * goodput / 8);
    double b = (slow.roundSeconds() - fast.roundSeconds()) / (xSlow - xFast);
    double a = fast.roundSeconds() - b * xFast;
    double perStepCompute = fast.compute();
    List<Check> out = new ArrayList<>();
    ScalingModel shape =
        new ScalingModel(
            layout,
            1,
            new ScalingModel.Costs(
                0, 0, 0, 0, Double.POSITIVE_INFINITY, java.util.Map.of(), java.util.Map.of(), 2),
            false);
    for (Run r : runs) {
      Run codecRun =
          runs.stream()
              .filter(
                  x ->
                      x.workers() == 2
                          && x.scheme().equals(r.scheme())
                          && x.bitsPerSecond() == fast.bitsPerSecond())
              .findFirst()
              .orElse(null);
      double codec = codecRun == null ? r.codec() : codecRun.codec();
      double stretch = Math.max(1.0, r.workers() / 2.0);
      // compute per step at N workers: B/N examples each, on N/2 of a core when N > 2
      double compute = stretch * perStepCompute * 2.0 / r.workers();
      Link link = new Link(r.bitsPerSecond(), goodput, latency);
      double ring =
          shape.phasesPerStep(r.scheme(), r.workers()) * latency
              + shape.bytesPerWorkerPerStep(r.scheme(), r.workers()) / link.payloadBytesPerSecond();
      double round =
          a
              + b
                  * roundBytes(n, optimizerBlocks, r.workers(), r.scheme())
                  / link.payloadBytesPerSecond();
      double step = compute + stretch * codec + ring + round / r.steps();
      boolean calibration =
          r.workers() == 2
              && (r.scheme().kind() == Kind.NONE || r.bitsPerSecond() == fast.bitsPerSecond());
      out.add(
          new Check(
              r.rate(),
              r.workers(),
              r.scheme().toString(),
              r.steps(),
              r.samplesPerSecond(),
              r.globalBatch() / step,
              calibration));
    }
    return out;
  }

  static String table(List<Check> checks) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        "| link | workers | compression | steps | measured samples/s | predicted | error | used to"
            + " calibrate |\n|---|---|---|---|---|---|---|---|\n");
    for (Check c : checks) {
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %d | %s | %d | %,.0f | %,.0f | %+.1f%% | %s |%n",
              c.rate(),
              c.workers(),
              c.scheme(),
              c.steps(),
              c.measuredSamplesPerSecond(),
              c.predictedSamplesPerSecond(),
              100 * c.error(),
              c.calibration() ? "yes" : "no"));
    }
    return sb.toString();
  }
}
