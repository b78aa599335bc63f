package io.spindle.bench;

import io.spindle.bench.StepProfiler.Row;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetSpec;
import io.spindle.data.Example;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.worker.MnistPartitionReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * oneDNN's own account of the step: a child JVM runs {@link StepProfiler}'s step with oneDNN's
 * verbose mode on ({@code DNNL_VERBOSE=1}, which prints one line per executed primitive with its
 * implementation, memory formats, problem and milliseconds), and this sums the lines per primitive,
 * direction and problem. Reorders are oneDNN's layout conversions (e.g. between ND4J's plain NCHW
 * arrays and the blocked formats its convolutions run in).
 */
public final class OneDnnTrace {
  private OneDnnTrace() {}

  /**
   * Runs the child and returns rows of group {@code onednn} (ms per step), or an empty list when
   * the child fails (its output is left in {@code dir}).
   */
  public static List<Row> run(SpindleConfig config, int batch, int workers, int steps, Path dir) {
    try {
      Files.createDirectories(dir);
      Path yaml = dir.resolve("onednn-trace-config.yaml");
      Files.writeString(yaml, ConfigLoader.toYaml(config), StandardCharsets.UTF_8);
      Path log = dir.resolve("onednn-trace.log");
      String javaBin = ProcessHandle.current().info().command().orElse("java");
      List<String> cmd = new ArrayList<>();
      cmd.add(javaBin);
      cmd.add("-Xmx2g");
      cmd.addAll(
          java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
              .filter(a -> a.startsWith("--add-opens") || a.startsWith("-Dorg.bytedeco"))
              .toList());
      cmd.addAll(
          List.of(
              "-cp",
              System.getProperty("java.class.path"),
              OneDnnTrace.class.getName(),
              yaml.toString(),
              Integer.toString(batch),
              Integer.toString(workers),
              Integer.toString(steps)));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.redirectOutput(log.toFile());
      pb.environment().put("DNNL_VERBOSE", "1");
      pb.environment().put("OMP_NUM_THREADS", "1");
      Process p = pb.start();
      if (!p.waitFor(10, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        return List.of();
      }
      if (p.exitValue() != 0) {
        return List.of();
      }
      return parse(Files.readAllLines(log, StandardCharsets.UTF_8), steps + 1);
    } catch (IOException e) {
      throw new UncheckedIOException("profile: oneDNN trace in " + dir + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    }
  }

  /**
   * Sums {@code dnnl_verbose,exec} lines (oneDNN 2.x: primitive, implementation, direction,
   * formats, attributes, auxiliary, problem, ms) per primitive, direction and problem; ms per step
   * over {@code steps} steps.
   */
  static List<Row> parse(List<String> lines, int steps) {
    Map<String, double[]> sums = new TreeMap<>();
    for (String line : lines) {
      if (!line.startsWith("dnnl_verbose,exec,cpu,")) {
        continue;
      }
      String[] f = line.split(",", -1);
      if (f.length < 11) {
        continue;
      }
      String primitive = f[3];
      String impl = f[4];
      String direction = f[5];
      String problem = f[f.length - 2];
      double ms;
      try {
        ms = Double.parseDouble(f[f.length - 1]);
      } catch (NumberFormatException e) {
        continue;
      }
      String key = primitive + " " + direction + " [" + impl + "] " + problem;
      double[] s = sums.computeIfAbsent(key, k -> new double[2]);
      s[0] += ms;
      s[1] += 1;
    }
    List<Row> rows = new ArrayList<>();
    for (Map.Entry<String, double[]> e : sums.entrySet()) {
      double[] s = e.getValue();
      String phase = e.getKey().contains("backward") ? "backward" : "forward";
      rows.add(
          new Row(
              "onednn",
              e.getKey() + " (x" + Math.round(s[1] / steps) + "/step)",
              phase,
              s[0] / steps));
    }
    return rows;
  }

  /** The child: {@code <config.yaml> <batch> <workers> <steps>}; prints oneDNN's lines. */
  public static void main(String[] args) {
    Nd4jRuntime.selectNativeBuild();
    SpindleConfig config = ConfigLoader.load(Path.of(args[0]), List.of());
    int batch = Integer.parseInt(args[1]);
    int workers = Integer.parseInt(args[2]);
    int steps = Integer.parseInt(args[3]);
    Map<String, Path> files = io.spindle.driver.data.DatasetFiles.fetch(config);
    int numClasses = DatasetSpec.named(config.data().dataset()).numClasses();
    List<Example> train =
        MnistPartitionReader.read(
            files.get(DatasetSpec.TRAIN_IMAGES).toUri().toString(),
            files.get(DatasetSpec.TRAIN_LABELS).toUri().toString(),
            numClasses,
            0,
            batch * (steps + 1));
    Nd4jRuntime.configureThreads(1);
    StepProfiler.run(config, train, numClasses, batch, workers, 1, steps);
    // returning (not System.exit) lets the C library flush oneDNN's buffered lines
  }
}
