package io.spindle.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.spindle.bench.BenchMetrics.EpochPoint;
import io.spindle.config.SpindleConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the runs into {@code bench.json} (one object per system), {@code bench.txt} (a table with
 * ratios against the faster DL4J {@code fit()}) and {@code bench.png}; each file is written to a
 * temporary name and renamed, so none is ever half-written.
 */
public final class BenchReport {
  private BenchReport() {}

  /** One bench.json object per run, in run order, without a bf16 peak. */
  public static List<Map<String, Object>> objects(
      SpindleConfig config,
      int numFeatures,
      double target,
      double peak1,
      double peak2,
      java.util.function.IntToDoubleFunction computeSecondsForBatch,
      List<SystemRun> runs) {
    return objects(config, numFeatures, target, peak1, peak2, null, computeSecondsForBatch, runs);
  }

  /** As below, with ND4J's peaks {@code peak1}/{@code peak2} alone (measured once, no PyTorch). */
  static List<Map<String, Object>> objects(
      SpindleConfig config,
      int numFeatures,
      double target,
      double peak1,
      double peak2,
      Bf16Peak bf16,
      java.util.function.IntToDoubleFunction computeSecondsForBatch,
      List<SystemRun> runs) {
    return objects(
        config,
        numFeatures,
        target,
        Calibration.ofPeaks(peak1, peak2),
        bf16,
        computeSecondsForBatch,
        runs);
  }

  /**
   * One bench.json object per run, in run order. {@code calibration} gives the float32 matmul peak
   * of the run's cores ({@link Calibration#peakFor}: {@code fraction_of_matmul_peak}) and where it
   * came from; {@code bf16}, when not null (a {@code model.precision: bf16} run), adds the bf16
   * peak of the same cores and the model FLOP/s as a share of it ({@code
   * fraction_of_bf16_matmul_peak}).
   */
  static List<Map<String, Object>> objects(
      SpindleConfig config,
      int numFeatures,
      double target,
      Calibration calibration,
      Bf16Peak bf16,
      java.util.function.IntToDoubleFunction computeSecondsForBatch,
      List<SystemRun> runs) {
    double modelBytes = modelBytes(config, numFeatures);
    double flopsPerExample = BenchMetrics.flopsPerExample(numFeatures, config.model());
    int global = config.training().batchSize();
    double reference = fastest(runs, "dl4j-fit");
    // the reference: the faster of PyTorch's best threading and DDP (pytorch-1t is the
    // one-thread reference of spindle-collective-1w)
    double torch =
        runs.stream()
            .filter(
                r ->
                    r.system().equals(PyTorchBaseline.BEST)
                        || r.system().equals(PyTorchBaseline.DDP))
            .mapToDouble(SystemRun::samplesPerSecond)
            .max()
            .orElse(Double.NaN);
    List<Map<String, Object>> out = new ArrayList<>();
    for (SystemRun r : runs) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("system", r.system());
      o.put("workers", r.workers());
      o.put("threads_per_worker", r.threadsPerWorker());
      o.put("global_batch", global);
      o.put("epochs", r.epochs().size());
      o.put("examples", r.examples());
      o.put("steps", r.steps());
      o.put("train_seconds", r.trainSeconds());
      o.put("time_method", r.timeMethod());
      o.put("samples_per_second", r.samplesPerSecond());
      o.put(
          "ratio_to_faster_dl4j_fit",
          Double.isNaN(reference) ? null : r.samplesPerSecond() / reference);
      o.put("ratio_to_faster_pytorch", Double.isNaN(torch) ? null : r.samplesPerSecond() / torch);
      o.put("test_accuracy", r.testAccuracy());
      List<Map<String, Object>> epochs = new ArrayList<>();
      for (EpochPoint p : r.epochs()) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("epoch", p.epoch());
        e.put("train_seconds", p.trainSeconds());
        e.put("test_accuracy", p.testAccuracy());
        epochs.add(e);
      }
      o.put("accuracy_by_epoch", epochs);
      o.put("target_accuracy", target);
      o.put("time_to_target_seconds", BenchMetrics.timeToTarget(r.epochs(), target));
      o.put("model_bytes", modelBytes);
      o.put("bytes_sent_per_worker_per_step", r.bytesSentPerWorkerPerStep());
      double bound = BenchMetrics.allreduceBoundBytes(r.workers(), modelBytes);
      o.put("allreduce_bound_bytes", bound);
      o.put(
          "bytes_to_bound",
          r.bytesSentPerWorkerPerStep() == null || bound == 0
              ? null
              : r.bytesSentPerWorkerPerStep() / bound);
      o.put("traffic_method", r.trafficMethod());
      double wall =
          r.wallSecondsPerStep() != null
              ? r.wallSecondsPerStep()
              : r.trainSeconds() / Math.max(1, r.steps());
      double compute;
      String computeMethod;
      if (r.computeSecondsPerStep() != null) {
        compute = r.computeSecondsPerStep();
        computeMethod = "the system's own counter (forward, backward, optimiser)";
      } else {
        int perWorker = (global + r.workers() - 1) / r.workers();
        compute = computeSecondsForBatch.applyAsDouble(perWorker);
        computeMethod =
            "derived: one DL4J fit() step on one ND4J thread with global batch / workers = "
                + perWorker
                + " examples, measured in this run";
      }
      o.put("wall_seconds_per_step", wall);
      o.put("compute_seconds_per_step", compute);
      o.put("compute_method", computeMethod);
      o.put("non_compute_seconds_per_step", wall - compute);
      double flops = r.samplesPerSecond() * flopsPerExample;
      double peak = calibration.peakFor(r.cores());
      o.put("flops_per_example", flopsPerExample);
      o.put("flops_formula", BenchMetrics.FLOPS_FORMULA);
      o.put("model_flops_per_second", flops);
      o.put("matmul_peak_flops_per_second", peak);
      o.put("matmul_peak_threads", r.cores() <= 1 ? 1 : 2);
      o.put("matmul_peak_source", calibration.peakSource(r.cores()));
      o.put("nd4j_matmul_peak_flops_per_second", calibration.nd4jPeakFor(r.cores()));
      if (r.cores() > 1) {
        o.put("nd4j_two_thread_peak_attempts", calibration.twoThreadAttempts);
      }
      o.put("fraction_of_matmul_peak", flops / peak);
      if (bf16 != null) {
        double peak16 = bf16.peakFor(r.cores());
        o.put("bf16_matmul_peak_flops_per_second", peak16);
        o.put("fraction_of_bf16_matmul_peak", flops / peak16);
        o.put("bf16_matmul_peak_method", bf16.method());
      }
      r.extra().entrySet().stream()
          .sorted(Map.Entry.comparingByKey())
          .forEach(e -> o.put(e.getKey(), e.getValue()));
      out.add(o);
    }
    return out;
  }

  static void write(
      Path dir,
      SpindleConfig config,
      int numFeatures,
      BenchCommand.Settings settings,
      Calibration calibration,
      Bf16Peak bf16,
      List<SystemRun> runs,
      List<BenchCommand.Skipped> skipped,
      PrintStream console) {
    List<Map<String, Object>> objects =
        objects(
            config,
            numFeatures,
            settings.target(),
            calibration,
            bf16,
            calibration::computeSecondsPerStep,
            runs);
    StringBuilder table =
        new StringBuilder(table(objects))
            .append(
                String.format(
                    Locale.ROOT,
                    "ratio: samples/s over the faster DL4J fit(); x torch: over the faster of"
                        + " pytorch and pytorch-ddp; matmul peak (ND4J, fp32 %dx%d, best of %d over"
                        + " BLAS and oneDNN): %.1f GFLOP/s on 1 thread, %.1f on 2%s%n"
                        + "%% peak is over the faster of ND4J's and PyTorch's peak on the system's"
                        + " cores: %.1f GFLOP/s on 1 thread (%s), %.1f on 2 (%s)%n",
                    calibration.matmulSize,
                    calibration.matmulSize,
                    Calibration.REPEATS,
                    calibration.peak1 / 1e9,
                    calibration.peak2 / 1e9,
                    calibration.twoThreadAttempts > 1
                        ? String.format(
                            Locale.ROOT,
                            " (best of %d measurements: below %.1fx the best 1-thread peak, the second"
                                + " core was busy)",
                            calibration.twoThreadAttempts,
                            Calibration.TWO_CORE_RATIO)
                        : "",
                    calibration.peakFor(1) / 1e9,
                    calibration.peakSource(1),
                    calibration.peakFor(2) / 1e9,
                    calibration.peakSource(2)));
    if (calibration.torchPeak1 > 0) {
      table.append(
          String.format(
              Locale.ROOT,
              "PyTorch's matmul peak (same size): %.1f GFLOP/s on 1 thread, %.1f on 2%n",
              calibration.torchPeak1 / 1e9,
              calibration.torchPeak2 / 1e9));
    }
    if (bf16 != null) {
      table.append(
          String.format(
              Locale.ROOT,
              "bf16 matmul peak (ND4J, bf16 %dx%d, libnd4j matmul op/oneDNN, %s): %.1f GFLOP/s on 1"
                  + " thread, %.1f on 2%s%n",
              bf16.size(),
              bf16.size(),
              bf16.unavailable() == null ? "AMX enabled" : "AMX not enabled: " + bf16.unavailable(),
              bf16.peak1() / 1e9,
              bf16.peak2() / 1e9,
              bf16.torchPeak1() > 0
                  ? String.format(
                      Locale.ROOT,
                      "; PyTorch's bf16 torch.mm: %.1f on 1 thread, %.1f on 2",
                      bf16.torchPeak1() / 1e9,
                      bf16.torchPeak2() / 1e9)
                  : ""));
    }
    for (BenchCommand.Skipped s : skipped) {
      table.append("skipped ").append(s.system()).append(": ").append(s.reason()).append('\n');
    }
    List<Map<String, Object>> all = new ArrayList<>(objects);
    all.addAll(BenchCommand.skippedObjects(skipped));
    try {
      Files.createDirectories(dir);
      byte[] json =
          new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(all);
      atomicWrite(dir.resolve("bench.json"), json);
      atomicWrite(dir.resolve("bench.txt"), table.toString().getBytes(StandardCharsets.UTF_8));
      atomicWrite(dir.resolve("bench.png"), BenchChart.png(runs, settings.target()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write bench results to " + dir + ": " + e, e);
    }
    console.print(table);
  }

  /**
   * The human-readable table of bench.txt; the column {@code % bf16pk} appears when the objects
   * carry a bf16 peak (a {@code model.precision: bf16} run).
   */
  static String table(List<Map<String, Object>> objects) {
    boolean bf16 = objects.stream().anyMatch(o -> o.containsKey("fraction_of_bf16_matmul_peak"));
    StringBuilder t = new StringBuilder();
    t.append(
        String.format(
            Locale.ROOT,
            "%-31s %6s %7s %10s %6s %7s %8s %9s %12s %7s %9s %9s %7s%s%n",
            "system",
            "cores",
            "prec",
            "samples/s",
            "ratio",
            "x torch",
            "test acc",
            "t-target",
            "bytes/w/step",
            "x bound",
            "ms/step",
            "non-comp",
            "% peak",
            bf16 ? String.format(Locale.ROOT, " %9s", "% bf16pk") : ""));
    for (Map<String, Object> o : objects) {
      t.append(
          String.format(
              Locale.ROOT,
              "%-31s %6s %7s %10.0f %6s %7s %8.4f %9s %12s %7s %9.1f %9.1f %7.1f%s%n",
              o.get("system"),
              o.get("workers") + "x" + o.get("threads_per_worker"),
              o.get("compute_precision") == null ? "-" : o.get("compute_precision"),
              num(o, "samples_per_second"),
              fmt(o.get("ratio_to_faster_dl4j_fit"), "%.2f"),
              fmt(o.get("ratio_to_faster_pytorch"), "%.2f"),
              num(o, "test_accuracy"),
              fmt(o.get("time_to_target_seconds"), "%.1fs"),
              fmt(o.get("bytes_sent_per_worker_per_step"), "%.0f"),
              fmt(o.get("bytes_to_bound"), "%.2f"),
              1000 * num(o, "wall_seconds_per_step"),
              1000 * num(o, "non_compute_seconds_per_step"),
              100 * num(o, "fraction_of_matmul_peak"),
              bf16
                  ? String.format(
                      Locale.ROOT, " %9s", fmt(o.get("fraction_of_bf16_matmul_peak"), "%.1f", 100))
                  : ""));
    }
    t.append(
        "cores: workers x ND4J threads; prec: what the system's products computed in"
            + " (compute_precision; PyTorch in bf16: forward and loss under torch.autocast; - = not"
            + " recorded); t-target: training seconds to the target test accuracy"
            + " (- = not reached); bytes/w/step: bytes sent per worker per step (see"
            + " traffic_method in bench.json); x bound: over the all-reduce bound 2(N-1)/N x model"
            + " bytes; non-comp: wall minus compute ms per step; % peak: model FLOP/s over the"
            + " fp32 matmul peak"
            + (bf16 ? "; % bf16pk: model FLOP/s over the bf16 matmul peak of the same cores" : "")
            + "\n");
    return t.toString();
  }

  static double modelBytes(SpindleConfig config, int numFeatures) {
    long params =
        LayerShapes.of(config.model(), numFeatures).stream()
            .mapToLong(LayerShapes.Shape::parameters)
            .sum();
    int bytesPer = config.model().precision() == io.spindle.config.Precision.FLOAT64 ? 8 : 4;
    return (double) params * bytesPer;
  }

  private static double fastest(List<SystemRun> runs, String prefix) {
    return runs.stream()
        .filter(r -> r.system().startsWith(prefix))
        .mapToDouble(SystemRun::samplesPerSecond)
        .max()
        .orElse(Double.NaN);
  }

  private static double num(Map<String, Object> o, String key) {
    return ((Number) o.get(key)).doubleValue();
  }

  private static String fmt(Object value, String format) {
    return fmt(value, format, 1);
  }

  private static String fmt(Object value, String format, double scale) {
    return value == null
        ? "-"
        : String.format(Locale.ROOT, format, scale * ((Number) value).doubleValue());
  }

  private static void atomicWrite(Path target, byte[] bytes) throws IOException {
    Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
    Files.write(tmp, bytes);
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
