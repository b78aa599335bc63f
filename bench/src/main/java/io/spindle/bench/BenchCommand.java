package io.spindle.bench;

import io.spindle.config.ConfigException;
import io.spindle.config.Precision;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.data.DatasetFiles;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code spindle bench}: trains the same model on the same data, global batch and machine with each
 * system in turn, in one process, measures the reference figures (matmul peak, single-thread
 * compute per step) first, and writes bench.json, bench.txt and bench.png.
 *
 * <p>Systems: {@code dl4j-fit-1t} and {@code dl4j-fit-2t} (plain single-process DL4J {@code fit()}
 * with 1 and 2 ND4J threads); {@code spindle-gradient-sharing}, {@code spindle-collective} and
 * {@code spindle-parameter-averaging} (Spindle in Spark local mode with the configured workers);
 * {@code spindle-collective-1w} (the collective engine with one worker, to show the scaling from 1
 * to N workers); {@code dl4j-spark-parameter-averaging} and {@code dl4j-spark-shared} (DL4J Spark's
 * ParameterAveragingTrainingMaster and SharedTrainingMaster, see {@link Dl4jSparkBaseline}); {@code
 * pytorch-1t}, {@code pytorch} and {@code pytorch-ddp} (PyTorch on one thread, on its best
 * threading, and DDP with one process per worker, see {@link PyTorchBaseline}), which are reported
 * as skipped, with the reason, when no Python interpreter imports torch.
 *
 * <p>With {@code model.precision: bf16} every system follows the config: Spindle's bf16 products
 * where they pay, the PyTorch systems under CPU autocast to bfloat16; each row records what it
 * computed in ({@code compute_precision}), and the bench measures a bf16 matmul peak ({@link
 * Bf16Peak}) beside the float32 one.
 */
public final class BenchCommand {
  public static final String DL4J_SPARK_AVERAGING = "dl4j-spark-parameter-averaging";
  public static final String DL4J_SPARK_SHARED = "dl4j-spark-shared";
  public static final List<String> SYSTEMS =
      List.of(
          "dl4j-fit-1t",
          "dl4j-fit-2t",
          "spindle-gradient-sharing",
          "spindle-collective",
          "spindle-parameter-averaging",
          "spindle-collective-1w",
          DL4J_SPARK_AVERAGING,
          DL4J_SPARK_SHARED,
          PyTorchBaseline.SINGLE_THREAD,
          PyTorchBaseline.BEST,
          PyTorchBaseline.DDP);

  /** The systems of {@code --model cnn} unless {@code --systems} is given. */
  public static final List<String> CNN_SYSTEMS =
      List.of(
          "spindle-collective",
          "spindle-collective-1w",
          PyTorchBaseline.SINGLE_THREAD,
          PyTorchBaseline.BEST,
          PyTorchBaseline.DDP);

  /**
   * What to run besides the config.
   *
   * @param systems some of {@link #SYSTEMS}, run in this order
   * @param target test accuracy for time_to_target_seconds, in (0, 1]
   * @param matmulSize n of the n x n fp32 products that measure the matmul peak
   */
  public record Settings(List<String> systems, double target, int matmulSize) {
    public Settings {
      systems = List.copyOf(systems);
      if (systems.isEmpty()) {
        throw new ConfigException("--systems: expected at least one of " + SYSTEMS + ", got none");
      }
      for (String s : systems) {
        if (!SYSTEMS.contains(s)) {
          throw new ConfigException(
              "--systems: unknown system '" + s + "'; expected some of " + SYSTEMS);
        }
      }
      if (!(target > 0 && target <= 1)) {
        throw new ConfigException("--target must be in (0, 1], got " + target);
      }
      if (matmulSize < 16) {
        throw new ConfigException("--peak-size must be >= 16, got " + matmulSize);
      }
    }
  }

  /** A system that did not run, and why. */
  public record Skipped(String system, String reason) {}

  private BenchCommand() {}

  /** Runs every system of {@code settings}, writes the report into {@code outputDir}. */
  public static List<SystemRun> run(
      SpindleConfig config, Settings settings, Path outputDir, PrintStream console) {
    Map<String, Path> files = DatasetFiles.fetch(config);
    BenchData data = BenchData.load(config, files);
    console.printf(
        Locale.ROOT,
        "bench: %d train / %d test examples, global batch %d, %d epoch(s), %d workers%n",
        data.train.size(),
        data.test.size(),
        config.training().batchSize(),
        config.training().epochs(),
        config.cluster().workers());
    boolean wantsTorch = settings.systems().stream().anyMatch(s -> s.startsWith("pytorch"));
    TorchPeer.Interpreter python = wantsTorch ? TorchPeer.find() : null;
    TorchPeer peer = python != null && python.available() ? TorchPeer.in(python, outputDir) : null;
    if (peer != null) {
      console.printf(
          Locale.ROOT,
          "bench: PyTorch %s, OpenBLAS kernels %s (%s)%n",
          python.torchVersion(),
          peer.blasCore().used(),
          peer.blasCore().reason());
    }
    Calibration calibration = Calibration.measure(settings.matmulSize(), config, data, peer);
    console.printf(
        Locale.ROOT,
        "bench: ND4J fp32 %dx%d matmul peak %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)%n",
        settings.matmulSize(),
        settings.matmulSize(),
        calibration.peak1 / 1e9,
        calibration.peak2 / 1e9);
    Bf16Peak bf16 =
        config.model().precision() == Precision.BF16
            ? Bf16Peak.measure(settings.matmulSize(), peer)
            : null;
    if (bf16 != null) {
      console.printf(
          Locale.ROOT,
          "bench: ND4J bf16 %dx%d matmul peak %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)%s;"
              + " PyTorch systems train under torch.autocast(cpu, bfloat16)%n",
          settings.matmulSize(),
          settings.matmulSize(),
          bf16.peak1() / 1e9,
          bf16.peak2() / 1e9,
          bf16.unavailable() == null ? "" : " (AMX not enabled: " + bf16.unavailable() + ")");
    }
    List<SystemRun> runs = new ArrayList<>();
    List<Skipped> skipped = new ArrayList<>();
    for (String system : settings.systems()) {
      if (system.startsWith("pytorch") && peer == null) {
        skipped.add(new Skipped(system, python.unavailable()));
        console.println("bench: skipping " + system + ": " + python.unavailable());
        continue;
      }
      console.println("bench: running " + system + " ...");
      SystemRun r = runOne(system, config, data, files, peer, outputDir);
      console.printf(
          Locale.ROOT,
          "bench: %-32s %8.0f samples/s  test accuracy %.4f%s%s%n",
          system,
          r.samplesPerSecond(),
          r.testAccuracy(),
          r.extra().get("compute_precision") instanceof String p ? "  (" + p + ")" : "",
          r.extra().get("steady_samples_per_second") instanceof Number steady
              ? String.format(Locale.ROOT, "  (steady: %.0f samples/s)", steady.doubleValue())
              : "");
      runs.add(r);
    }
    BenchReport.write(
        outputDir, config, data.numFeatures, settings, calibration, bf16, runs, skipped, console);
    return runs;
  }

  private static SystemRun runOne(
      String system,
      SpindleConfig config,
      BenchData data,
      Map<String, Path> files,
      TorchPeer peer,
      Path outputDir) {
    if (system.startsWith("dl4j-fit-")) {
      return Dl4jFitBaseline.run(system, config, data, system.endsWith("1t") ? 1 : 2);
    }
    if (system.startsWith("dl4j-spark-")) {
      return Dl4jSparkBaseline.run(
          system, config, data, config.cluster().workers(), outputDir.resolve(system));
    }
    if (system.startsWith("pytorch")) {
      return PyTorchBaseline.run(system, config, data.numFeatures, files, peer, outputDir);
    }
    return SpindleBaseline.run(system, config, outputDir.resolve(system));
  }

  /** The skipped systems as bench.json objects. */
  static List<Map<String, Object>> skippedObjects(List<Skipped> skipped) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Skipped s : skipped) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("system", s.system());
      o.put("skipped", s.reason());
      out.add(o);
    }
    return out;
  }
}
