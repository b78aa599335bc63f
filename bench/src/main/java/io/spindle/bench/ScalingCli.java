package io.spindle.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.spindle.bench.BenchChart.Line;
import io.spindle.bench.BenchChart.LinePanel;
import io.spindle.bench.ScalingModel.Compression;
import io.spindle.bench.ScalingModel.Costs;
import io.spindle.bench.ScalingModel.Kind;
import io.spindle.bench.ScalingModel.Link;
import io.spindle.bench.ScalingModel.MeasuredStep;
import io.spindle.bench.ScalingModel.Prediction;
import io.spindle.compress.GradientLayout;
import io.spindle.compress.PowerSgdCodec;
import io.spindle.compress.TopKCodec;
import io.spindle.config.ConfigException;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.cli.CommandOptions;
import io.spindle.driver.cli.ExitCode;
import io.spindle.driver.cli.SpindleCli;
import io.spindle.model.ModelFactory;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The scaling model's predictions as a table, JSON and a chart ({@link ScalingModel} has the
 * formulas):
 *
 * <pre>
 *   java -cp 'bench/target/lib/*:bench/target/classes' io.spindle.bench.ScalingCli \
 *       [--config FILE] [--set key=value ...] [--output DIR] [--inputs 784] [--examples 60000]
 *       [--workers 8,16,...,512] [--rates 10gbit,25gbit] [--latency-us 75] [--goodput 0.956]
 *       [--schemes none,bf16,powersgd:4,topk:0.01] [--per-worker-batch 128 | --global-batch N]
 *       [--seconds-per-example S] [--shared-cores C] [--shared-host-slowdown F]
 *       [--scheme-slowdowns powersgd:2=F,...] [--phase-wait-us W]
 *       [--ring-cpu-mb-per-s R] [--calibrate SUMMARY.json --calibrate-scheme none]
 *       [--epochs-to-target none=3,powersgd:4=4] [--codec-seconds powersgd:4=0.011,...]
 *   ... ScalingCli --validate DIR[,DIR...] --calibration DIR[,DIR] [--shared-cores 2] [--optimizer-ns-per-value
 *       3.81] [--copy-ms 1.45] [--codec-seconds ...] [--slowdown shared|per-scheme]
 * </pre>
 *
 * The shared-host slowdown (only with {@code --shared-cores}: workers that share a host's cores) is
 * {@code --shared-host-slowdown} for every scheme not in {@code --scheme-slowdowns}; {@code
 * --validate} takes {@code none}'s two-worker calibration run's for all schemes ({@code --slowdown
 * shared}, the default: the model that fresh runs check within 15% at every point, network.md
 * section 6) or calibrates it per scheme from each scheme's own two-worker calibration run ({@code
 * --slowdown per-scheme}; a scheme without one has {@code none}'s, and the output says so).
 *
 * <p>Writes {@code scaling.json}, {@code scaling.txt}, {@code scaling.png} and {@code scaling.svg}
 * (samples/s against N, log-log, one panel per rate). The model is the configured one ({@code
 * model.*}, default the MNIST MLP 784-800-800-10), read through {@link GradientLayout#of}. Codec
 * compute per step is measured on this machine (median of 10 steps after 20 unmeasured, on Gaussian
 * gradients) unless given: measure on an idle machine. {@code --calibrate} takes compute per
 * example and the per-step overhead from a collective run's {@code summary.json} and refuses a run
 * whose counted bytes the ring model does not reproduce.
 */
public final class ScalingCli {
  /**
   * Forward and backward per example on one core, from the README's idle-machine bench: 22.4 ms of
   * compute per step at 128 examples per worker (28.4 ms per step, 6.0 ms not compute), less 0.8 ms
   * of Adam on a 638k-value shard.
   */
  static final double DEFAULT_SECONDS_PER_EXAMPLE = 21.6e-3 / 128;

  /** Adam fused over Java arrays: 0.5-1 ms on a 638k-value shard (README). */
  static final double DEFAULT_OPTIMIZER_SECONDS_PER_VALUE = 1.2e-9;

  /**
   * Per ring phase on the test bed: a one-value all-reduce of TcpRing took 150 us at N = 2 (2
   * phases) and 268 us at N = 3 (4 phases) at 100 Mbit/s (NetworkBedIT; the TCP round trip itself
   * is 10 us: the rest is the ring's per-message software path).
   */
  static final double DEFAULT_LATENCY_SECONDS = 70e-6;

  /**
   * One worker's ring with two cores of its own, CPU-bound: {@code 2 / (ring CPU seconds per byte
   * sent)}. From {@code bench --profile-collective} (2026-12-06 13:49): the JVM's CPU per step rose
   * from 34.65 ms (two workers side by side, no ring) to 44.45 ms (the same on the loopback ring),
   * 9.8 ms for 2 x 5,108,040 bytes sent: 0.96 ns per byte, 2.08 GB/s.
   */
  static final double DEFAULT_RING_CPU_BYTES_PER_SECOND = 2.0 / (9.8e-3 / (2 * 5_108_040.0));

  private ScalingCli() {}

  public static void main(String[] args) {
    io.spindle.runtime.Nd4jRuntime.selectNativeBuild();
    System.exit(run(args, System.out, System.err));
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    try {
      CommandOptions options =
          CommandOptions.parse(
              "ScalingCli",
              args,
              List.of(
                  "--inputs",
                  "--examples",
                  "--workers",
                  "--rates",
                  "--latency-us",
                  "--goodput",
                  "--schemes",
                  "--per-worker-batch",
                  "--global-batch",
                  "--seconds-per-example",
                  "--shared-cores",
                  "--calibrate",
                  "--calibrate-scheme",
                  "--epochs-to-target",
                  "--codec-seconds",
                  "--validate",
                  "--calibration",
                  "--shared-host-slowdown",
                  "--phase-wait-us",
                  "--ring-cpu-mb-per-s",
                  "--optimizer-ns-per-value",
                  "--copy-ms",
                  "--slowdown",
                  "--scheme-slowdowns"));
      if (options.help()) {
        out.println("Usage: see the class comment of io.spindle.bench.ScalingCli");
        return ExitCode.SUCCESS.code();
      }
      Path output = options.outputDir(Path.of("runs", "scaling"));
      int inputs = options.positiveInt("--inputs", 784);
      long examples = options.positiveInt("--examples", 60_000);
      int[] workers =
          options.extra("--workers") == null
              ? new int[] {8, 16, 32, 64, 128, 256, 512}
              : Arrays.stream(options.extra("--workers").split(","))
                  .mapToInt(w -> CommandOptions.positiveInt(w, "--workers"))
                  .toArray();
      double[] rates =
          options.extra("--rates") == null
              ? new double[] {10e9, 25e9}
              : Arrays.stream(options.extra("--rates").split(","))
                  .mapToDouble(ScalingCli::bits)
                  .toArray();
      double latency =
          options.extra("--latency-us") == null
              ? DEFAULT_LATENCY_SECONDS
              : options.number("--latency-us", 0) * 1e-6;
      double goodput = options.number("--goodput", 0.956);
      List<Compression> schemes =
          Arrays.stream(
                  (options.extra("--schemes") == null
                          ? "none,bf16,powersgd:4,topk:0.01"
                          : options.extra("--schemes"))
                      .split(","))
              .map(Compression::parse)
              .toList();
      if (options.extra("--per-worker-batch") != null && options.extra("--global-batch") != null) {
        throw new ConfigException("--per-worker-batch and --global-batch exclude each other");
      }
      Integer globalBatch =
          options.extra("--global-batch") == null ? null : options.positiveInt("--global-batch", 0);
      Integer perWorkerBatch =
          globalBatch != null ? null : options.positiveInt("--per-worker-batch", 128);
      double secondsPerExample =
          options.number("--seconds-per-example", DEFAULT_SECONDS_PER_EXAMPLE);
      int sharedCores = options.positiveInt("--shared-cores", 0);
      double slowdown = options.number("--shared-host-slowdown", 0);
      if (!(slowdown > -1)) {
        throw new ConfigException("--shared-host-slowdown must be > -1, got " + slowdown);
      }
      Map<String, Double> schemeSlowdowns = new LinkedHashMap<>();
      for (String v : options.extras("--scheme-slowdowns")) {
        schemeSlowdowns.putAll(pairs(v, "--scheme-slowdowns"));
      }
      for (Map.Entry<String, Double> e : schemeSlowdowns.entrySet()) {
        if (!(e.getValue() > -1)) {
          throw new ConfigException(
              "--scheme-slowdowns: the slowdown of "
                  + e.getKey()
                  + " must be > -1, got "
                  + e.getValue());
        }
      }
      // on a cluster (no --shared-cores) no worker shares its cores: no slowdown applies
      ScalingModel.Hosts hosts =
          sharedCores == 0
              ? ScalingModel.Hosts.CLUSTER
              : ScalingModel.Hosts.oneHost(
                      sharedCores, slowdown, options.number("--phase-wait-us", 0) * 1e-6)
                  .withSchemeSlowdowns(schemeSlowdowns);
      double ringCpuRate =
          options.extra("--ring-cpu-mb-per-s") == null
              ? DEFAULT_RING_CPU_BYTES_PER_SECOND
              : options.number("--ring-cpu-mb-per-s", 0) * 1e6;
      if (!(ringCpuRate > 0)) {
        throw new ConfigException("--ring-cpu-mb-per-s must be > 0, got " + ringCpuRate / 1e6);
      }
      Path calibrate =
          options.extra("--calibrate") == null ? null : Path.of(options.extra("--calibrate"));
      Compression calibrateScheme =
          Compression.parse(
              options.extra("--calibrate-scheme") == null
                  ? "none"
                  : options.extra("--calibrate-scheme"));
      Map<String, Double> epochs = new LinkedHashMap<>();
      for (String v : options.extras("--epochs-to-target")) {
        epochs.putAll(pairs(v, "--epochs-to-target"));
      }
      Map<String, Double> codecSeconds = new LinkedHashMap<>();
      for (String v : options.extras("--codec-seconds")) {
        codecSeconds.putAll(pairs(v, "--codec-seconds"));
      }
      SpindleConfig config = options.config();
      GradientLayout layout =
          GradientLayout.of(ModelFactory.create(config.model(), inputs, config.training().seed()));
      if (options.extra("--validate") != null) {
        // the model against the runs of a `spindle bench --network` directory, calibrated on the
        // runs of another (one worker at two rates, two workers at a rate no link limits)
        if (options.extra("--calibration") == null) {
          throw new ConfigException(
              "--validate needs --calibration DIR: one-worker none runs at two rates and a"
                  + " two-worker none run at 10gbit (docs/network.md, section 6)");
        }
        int blocks = io.spindle.optim.FlatOptimizer.stateMultiplier(config.optimizer().type());
        // several directories: repetitions of the same runs, each point checked on its median
        List<BedValidation.Run> repeated = new ArrayList<>();
        for (String d : options.extra("--validate").split(",")) {
          repeated.addAll(BedValidation.runs(Path.of(d.trim())));
        }
        List<BedValidation.Run> validated = BedValidation.medians(repeated);
        Map<String, Double> fallback = new LinkedHashMap<>(codecSeconds);
        for (BedValidation.Run r : validated) {
          if (r.scheme().kind() != Kind.NONE && !fallback.containsKey(r.scheme().toString())) {
            fallback.put(r.scheme().toString(), codecSeconds(layout, r.scheme()));
          }
        }
        BedValidation.Profile profile =
            new BedValidation.Profile(
                options.number("--optimizer-ns-per-value", 3.81) * 1e-9,
                options.number("--copy-ms", 1.45) * 1e-3);
        // repetitions of a calibration run count by their median, as the checked runs do
        List<BedValidation.Run> calibrationRepeated = new ArrayList<>();
        for (String d : options.extra("--calibration").split(",")) {
          calibrationRepeated.addAll(BedValidation.runs(Path.of(d.trim())));
        }
        List<BedValidation.Run> calibrationRuns = BedValidation.medians(calibrationRepeated);
        BedValidation.Slowdown mode;
        try {
          mode =
              BedValidation.Slowdown.parse(
                  options.extra("--slowdown") == null ? "shared" : options.extra("--slowdown"));
        } catch (IllegalArgumentException e) {
          throw new ConfigException(e.getMessage());
        }
        BedValidation.Calibration cal =
            BedValidation.calibrate(
                calibrationRuns,
                layout,
                blocks,
                latency,
                goodput,
                sharedCores == 0 ? 2 : sharedCores,
                profile,
                fallback,
                mode);
        List<Compression> checkedSchemes =
            validated.stream().map(BedValidation.Run::scheme).distinct().toList();
        List<BedValidation.Check> checks =
            BedValidation.check(validated, cal, layout, blocks, latency, goodput);
        String head =
            String.format(
                Locale.ROOT,
                "calibration: %.1f us per example, copies %.2f ms, optimiser %.2f ns per value,"
                    + " codec ms %s, ring CPU %.0f MB/s (one worker, two cores), %d cores shared,"
                    + " shared-host slowdown of none %.3f, phase wait %.0f us x stretch, round %.2f s"
                    + " + %.2f s x N / %d + %.2f x bytes / rate%n",
                cal.costs().secondsPerExample() * 1e6,
                cal.costs().fixedSecondsPerStep() * 1e3,
                cal.costs().optimizerSecondsPerValue() * 1e9,
                cal.costs().codecSeconds().entrySet().stream()
                    .map(e -> String.format(Locale.ROOT, "%s %.2f", e.getKey(), 1e3 * e.getValue()))
                    .toList(),
                cal.costs().ringCpuBytesPerSecond() / 1e6,
                cal.cores(),
                cal.costs().hosts().sharedHostSlowdown(),
                cal.costs().hosts().phaseWaitSeconds() * 1e6,
                cal.roundFixedSeconds(),
                cal.roundExecutorCpuSeconds(),
                cal.cores(),
                cal.roundLinkFactor());
        String table =
            head
                + BedValidation.slowdowns(cal, checkedSchemes, mode)
                + (calibrationRepeated.size() > calibrationRuns.size()
                    ? "calibration runs (each point calibrates with its median run):\n"
                        + BedValidation.repetitions(calibrationRepeated)
                        + "\n"
                    : "")
                + (repeated.size() > validated.size()
                    ? "repetitions (each point is checked on its median run):\n"
                        + BedValidation.repetitions(repeated)
                        + "\n"
                    : "")
                + BedValidation.table(checks);
        Files.createDirectories(output);
        Files.writeString(output.resolve("validation.txt"), table);
        out.print(table);
        double worst = checks.stream().mapToDouble(c -> Math.abs(c.error())).max().orElse(0);
        out.printf(Locale.ROOT, "largest error: %.1f%%%n", 100 * worst);
        // the issue's tolerance, on the unrounded errors (a table's -15.0% may be -15.04%)
        out.printf(
            Locale.ROOT,
            "within 15%%: %d of %d (errors %s)%n",
            checks.stream().filter(c -> Math.abs(c.error()) <= 0.15).count(),
            checks.size(),
            String.join(
                ", ",
                checks.stream()
                    .map(c -> String.format(Locale.ROOT, "%+.3f%%", 100 * c.error()))
                    .toList()));
        return ExitCode.SUCCESS.code();
      }
      for (Compression c : schemes) {
        if (c.kind() != Kind.NONE && !codecSeconds.containsKey(c.toString())) {
          codecSeconds.put(c.toString(), codecSeconds(layout, c));
        }
      }
      Costs costs =
          new Costs(
              0,
              secondsPerExample,
              DEFAULT_OPTIMIZER_SECONDS_PER_VALUE,
              0,
              ringCpuRate,
              codecSeconds,
              epochs,
              hosts);
      if (calibrate != null) {
        JsonNode s = new ObjectMapper().readTree(calibrate.toFile());
        int n = s.path("workers").asInt();
        int batch = config.training().batchSize();
        MeasuredStep run =
            new MeasuredStep(
                field(s, "compute_seconds_per_step", calibrate),
                field(s, "collective_seconds_per_step", calibrate),
                field(s, "wall_seconds_per_step", calibrate),
                field(s, "bytes_sent_per_worker_per_step", calibrate));
        costs = ScalingModel.calibrate(layout, calibrateScheme, n, batch, run, costs, false);
        out.printf(
            Locale.ROOT,
            "calibrated from %s (%d workers, batch %d): %.1f us per example, %.2f ms other per"
                + " step%n",
            calibrate,
            n,
            batch,
            costs.secondsPerExample() * 1e6,
            costs.otherSecondsPerStep() * 1e3);
      }
      ScalingModel model = new ScalingModel(layout, examples, costs, false);
      List<Prediction> predictions = new ArrayList<>();
      for (double rate : rates) {
        Link link = new Link(rate, goodput, latency);
        for (Compression c : schemes) {
          for (int n : workers) {
            int batch = globalBatch != null ? globalBatch : perWorkerBatch * n;
            predictions.add(model.predict(c, n, batch, link));
          }
        }
      }
      Files.createDirectories(output);
      String table = table(layout, costs, latency, goodput, predictions);
      out.print(table);
      Files.writeString(output.resolve("scaling.txt"), table);
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("parameters", layout.length());
      json.put("latency_seconds", latency);
      json.put("goodput", goodput);
      json.put("costs", costs);
      json.put("predictions", predictions);
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .writeValue(output.resolve("scaling.json").toFile(), json);
      List<LinePanel> panels = panels(rates, schemes, workers, predictions, perWorkerBatch);
      Files.write(output.resolve("scaling.png"), BenchChart.linePanels(panels));
      Files.writeString(output.resolve("scaling.svg"), SvgChart.linePanels(panels));
      out.println("spindle: scaling predictions in " + output.toAbsolutePath());
      return ExitCode.SUCCESS.code();
    } catch (Throwable t) {
      ExitCode code = SpindleCli.classify(t);
      err.println("scaling: " + code.name().toLowerCase(Locale.ROOT).replace('_', ' ') + ": " + t);
      if (code == ExitCode.INTERNAL_ERROR) {
        t.printStackTrace(err);
      }
      return code.code();
    }
  }

  /**
   * Codec compute per step on this machine: the median of 10 steps (after 20 unmeasured) of one
   * worker's compress, project and decompress (PowerSGD) or compress and accumulate (top-k) on
   * Gaussian gradients; bf16 is encoded inside the ring (0 here).
   */
  static double codecSeconds(GradientLayout layout, Compression c) {
    float[] g = new float[layout.length()];
    SplittableRandom rng = new SplittableRandom(1);
    for (int i = 0; i < g.length; i++) {
      g[i] = (float) rng.nextGaussian();
    }
    long[] t = new long[10];
    switch (c.kind()) {
      case POWERSGD -> {
        PowerSgdCodec codec = new PowerSgdCodec(layout, c.rank(), 1);
        float[] first = new float[codec.firstLength()];
        float[] second = new float[codec.secondLength()];
        float[] decoded = new float[g.length];
        for (int i = -20; i < t.length; i++) {
          long t0 = System.nanoTime();
          codec.compress(g, 0, first);
          codec.project(first, second);
          codec.decompress(first, second, decoded, 0, 0, g.length);
          if (i >= 0) {
            t[i] = System.nanoTime() - t0;
          }
        }
      }
      case TOPK -> {
        TopKCodec codec = new TopKCodec(layout, c.fraction());
        float[] wire = new float[codec.wireLength()];
        float[] decoded = new float[g.length];
        for (int i = -20; i < t.length; i++) {
          long t0 = System.nanoTime();
          codec.compress(g, 0, wire, 0);
          TopKCodec.accumulate(wire, 0, codec.k(), decoded, 0, 0, g.length);
          if (i >= 0) {
            t[i] = System.nanoTime() - t0;
          }
        }
      }
      default -> {
        return 0;
      }
    }
    Arrays.sort(t);
    return t[t.length / 2] / 1e9;
  }

  private static List<LinePanel> panels(
      double[] rates,
      List<Compression> schemes,
      int[] workers,
      List<Prediction> predictions,
      Integer perWorkerBatch) {
    double[] ticks = Arrays.stream(workers).asDoubleStream().toArray();
    List<LinePanel> panels = new ArrayList<>();
    for (double rate : rates) {
      List<Line> lines = new ArrayList<>();
      for (Compression c : schemes) {
        List<Prediction> ps =
            predictions.stream()
                .filter(p -> p.bitsPerSecond() == rate && p.compression().equals(c))
                .toList();
        lines.add(
            new Line(
                c.toString(),
                ps.stream().mapToDouble(Prediction::workers).toArray(),
                ps.stream().mapToDouble(Prediction::samplesPerSecond).toArray(),
                false));
      }
      List<Prediction> none = predictions.stream().filter(p -> p.bitsPerSecond() == rate).toList();
      // compute alone, no communication: the ceiling any scheme approaches
      Prediction first = none.get(0);
      double[] ideal = new double[workers.length];
      for (int i = 0; i < workers.length; i++) {
        int n = workers[i];
        double step =
            none.stream()
                .filter(p -> p.workers() == n)
                .mapToDouble(p -> p.computeSeconds() + p.otherSeconds())
                .min()
                .orElse(first.computeSeconds());
        double batch = perWorkerBatch != null ? perWorkerBatch * n : first.globalBatch();
        ideal[i] = batch / step;
      }
      lines.add(new Line("compute only (no communication)", ticks, ideal, true));
      panels.add(
          new LinePanel(
              String.format(Locale.ROOT, "Predicted samples/s at %s", rateName(rate)),
              "workers (N)",
              "samples/s",
              ticks,
              lines));
    }
    return panels;
  }

  private static String table(
      GradientLayout layout,
      Costs costs,
      double latency,
      double goodput,
      List<Prediction> predictions) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "scaling model: %,d parameters; %.1f us per example; ring phase latency %.0f us;"
                + " goodput %.3f; codec ms per step %s%n",
            layout.length(),
            costs.secondsPerExample() * 1e6,
            latency * 1e6,
            goodput,
            costs.codecSeconds().entrySet().stream()
                .map(e -> String.format(Locale.ROOT, "%s %.1f", e.getKey(), e.getValue() * 1e3))
                .toList()));
    sb.append(
        String.format(
            Locale.ROOT,
            "%-8s %-12s %5s %7s %14s %7s %9s %9s %9s %9s %12s %10s%n",
            "rate",
            "scheme",
            "N",
            "batch",
            "bytes/worker",
            "phases",
            "compute",
            "codec",
            "comm",
            "step ms",
            "samples/s",
            "to target"));
    for (Prediction p : predictions) {
      sb.append(
          String.format(
              Locale.ROOT,
              "%-8s %-12s %5d %7d %,14.0f %7d %9.2f %9.2f %9.2f %9.2f %,12.0f %10s%n",
              rateName(p.bitsPerSecond()),
              p.compression(),
              p.workers(),
              p.globalBatch(),
              p.bytesPerWorkerPerStep(),
              p.phases(),
              p.computeSeconds() * 1e3,
              p.codecSeconds() * 1e3,
              p.commSeconds() * 1e3,
              p.stepSeconds() * 1e3,
              p.samplesPerSecond(),
              p.timeToTargetSeconds() == null
                  ? "-"
                  : String.format(Locale.ROOT, "%.1f s", p.timeToTargetSeconds())));
    }
    return sb.toString();
  }

  static String rateName(double bits) {
    return bits >= 1e9
        ? String.format(Locale.ROOT, "%gGbit", bits / 1e9).replaceAll("\\.?0+Gbit", "Gbit")
        : String.format(Locale.ROOT, "%gMbit", bits / 1e6).replaceAll("\\.?0+Mbit", "Mbit");
  }

  /** {@code 100mbit}, {@code 10gbit}, {@code 2.5gbit}: bits per second. */
  static double bits(String rate) {
    String r = rate.trim().toLowerCase(Locale.ROOT);
    try {
      if (r.endsWith("gbit")) {
        return Double.parseDouble(r.substring(0, r.length() - 4)) * 1e9;
      }
      if (r.endsWith("mbit")) {
        return Double.parseDouble(r.substring(0, r.length() - 4)) * 1e6;
      }
    } catch (NumberFormatException e) {
      // fall through to the message
    }
    throw new ConfigException("a rate looks like 100mbit or 10gbit, got '" + rate + "'");
  }

  private static Map<String, Double> pairs(String text, String option) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (String kv : text.split(",")) {
      int eq = kv.indexOf('=');
      if (eq < 1) {
        throw new ConfigException(option + " takes scheme=number pairs, got '" + kv + "'");
      }
      m.put(
          Compression.parse(kv.substring(0, eq)).toString(), number(kv.substring(eq + 1), option));
    }
    return m;
  }

  private static double field(JsonNode summary, String name, Path file) {
    JsonNode v = summary.get(name);
    if (v == null || !v.isNumber()) {
      throw new ConfigException(
          file + ": expected a number '" + name + "' (a collective run's summary.json)");
    }
    return v.asDouble();
  }

  private static double number(String text, String option) {
    try {
      return Double.parseDouble(text);
    } catch (NumberFormatException e) {
      throw new ConfigException(option + " must be a number, got '" + text + "'");
    }
  }
}
