package io.spindle.bench;

import io.spindle.config.ConfigException;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.data.DatasetFiles;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

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
 * ParameterAveragingTrainingMaster and SharedTrainingMaster, see {@link Dl4jSparkBaseline}).
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
          DL4J_SPARK_SHARED);

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

  private BenchCommand() {}

  /** Runs every system of {@code settings}, writes the report into {@code outputDir}. */
  public static List<SystemRun> run(
      SpindleConfig config, Settings settings, Path outputDir, PrintStream console) {
    BenchData data = BenchData.load(config, DatasetFiles.fetch(config));
    console.printf(
        Locale.ROOT,
        "bench: %d train / %d test examples, global batch %d, %d epoch(s), %d workers%n",
        data.train.size(),
        data.test.size(),
        config.training().batchSize(),
        config.training().epochs(),
        config.cluster().workers());
    Calibration calibration = Calibration.measure(settings.matmulSize(), config, data);
    console.printf(
        Locale.ROOT,
        "bench: ND4J fp32 %dx%d matmul peak %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)%n",
        settings.matmulSize(),
        settings.matmulSize(),
        calibration.peak1 / 1e9,
        calibration.peak2 / 1e9);
    List<SystemRun> runs = new ArrayList<>();
    for (String system : settings.systems()) {
      console.println("bench: running " + system + " ...");
      SystemRun r = runOne(system, config, data, outputDir);
      console.printf(
          Locale.ROOT,
          "bench: %-32s %8.0f samples/s  test accuracy %.4f%n",
          system,
          r.samplesPerSecond(),
          r.testAccuracy());
      runs.add(r);
    }
    BenchReport.write(outputDir, config, data.numFeatures, settings, calibration, runs, console);
    return runs;
  }

  private static SystemRun runOne(
      String system, SpindleConfig config, BenchData data, Path outputDir) {
    if (system.startsWith("dl4j-fit-")) {
      return Dl4jFitBaseline.run(system, config, data, system.endsWith("1t") ? 1 : 2);
    }
    if (system.startsWith("dl4j-spark-")) {
      return Dl4jSparkBaseline.run(
          system, config, data, config.cluster().workers(), outputDir.resolve(system));
    }
    return SpindleBaseline.run(system, config, outputDir.resolve(system));
  }
}
