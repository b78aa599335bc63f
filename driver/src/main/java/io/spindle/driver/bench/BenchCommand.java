package io.spindle.driver.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import io.spindle.driver.SparkContexts;
import io.spindle.driver.TrainJob;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * {@code spindle bench}: trains the same model on the same data, global batch and machine with each
 * system in turn, in one process, and reports samples per second and test accuracy.
 *
 * <p>Systems: {@code dl4j-fit-1t} and {@code dl4j-fit-2t} (plain single-process DL4J {@code fit()}
 * with 1 and 2 ND4J threads), {@code spindle-gradient-sharing} and {@code
 * spindle-parameter-averaging} and {@code spindle-collective} (Spindle in Spark local mode with the
 * configured workers), and {@code spindle-collective-1w} (the collective engine with one worker, to
 * show the scaling from 1 to N workers).
 */
public final class BenchCommand {
  public static final List<String> SYSTEMS =
      List.of(
          "dl4j-fit-1t",
          "dl4j-fit-2t",
          "spindle-gradient-sharing",
          "spindle-parameter-averaging",
          "spindle-collective",
          "spindle-collective-1w");

  private BenchCommand() {}

  public static Map<String, Map<String, Object>> run(
      SpindleConfig base, List<String> systems, int epochs, Path outputDir, PrintStream console) {
    for (String s : systems) {
      if (!SYSTEMS.contains(s)) {
        throw new io.spindle.config.ConfigException(
            "--systems: unknown system '" + s + "'; expected some of " + SYSTEMS);
      }
    }
    SpindleConfig config =
        ConfigLoader.parse(
            ConfigLoader.toYaml(base), "bench", List.of("training.epochs=" + epochs));
    Map<String, Path> files = TrainJob.fetchData(config);
    Map<String, Map<String, Object>> results = new LinkedHashMap<>();
    for (String system : systems) {
      console.println("bench: running " + system + " ...");
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("system", system);
      if (system.startsWith("dl4j-fit-")) {
        int threads = system.endsWith("1t") ? 1 : 2;
        Dl4jFitBaseline.Result fit = Dl4jFitBaseline.run(config, files, threads, epochs);
        r.put("samples_per_second", fit.samplesPerSecond());
        r.put("train_seconds", fit.seconds());
        r.put("examples", fit.examples());
        r.put("test_accuracy", fit.testAccuracy());
        r.put("workers", 1);
        r.put("threads_per_worker", threads);
      } else {
        boolean oneWorker = system.endsWith("-1w");
        String sync =
            system
                .substring("spindle-".length(), system.length() - (oneWorker ? 3 : 0))
                .replace('-', '_');
        List<String> sets = new ArrayList<>(List.of("cluster.sync=" + sync));
        if (oneWorker) {
          sets.add("cluster.workers=1");
          sets.add("cluster.master=local[1]");
          sets.add("cluster.threadsPerWorker=1"); // as each of the N workers: pure worker scaling
        }
        SpindleConfig run = ConfigLoader.parse(ConfigLoader.toYaml(config), "bench", sets);
        try (JavaSparkContext sc = SparkContexts.create(run.cluster(), "spindle bench " + system)) {
          sc.setLogLevel("WARN");
          PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
          Map<String, Object> summary =
              TrainJob.run(sc, run, files, new RunOutput(outputDir.resolve(system)), quiet);
          r.put("samples_per_second", summary.get("samples_per_second"));
          r.put("end_to_end_samples_per_second", summary.get("end_to_end_samples_per_second"));
          r.put("train_seconds", summary.get("train_seconds"));
          r.put("examples", summary.get("examples"));
          r.put("test_accuracy", summary.get("test_accuracy"));
          r.put("workers", summary.get("workers"));
          r.put("threads_per_worker", summary.get("threads_per_worker"));
          if (summary.containsKey("bytes_sent_per_worker_per_step")) {
            r.put("bytes_sent_per_worker_per_step", summary.get("bytes_sent_per_worker_per_step"));
            r.put("allreduce_bound_bytes", summary.get("allreduce_bound_bytes"));
          }
        }
      }
      r.put("global_batch", config.training().batchSize());
      r.put("epochs", epochs);
      console.printf(
          Locale.ROOT,
          "bench: %-28s %8.0f samples/s  test accuracy %.4f%n",
          system,
          ((Number) r.get("samples_per_second")).doubleValue(),
          ((Number) r.get("test_accuracy")).doubleValue());
      results.put(system, r);
    }
    write(outputDir, results, console);
    return results;
  }

  private static void write(
      Path dir, Map<String, Map<String, Object>> results, PrintStream console) {
    try {
      Files.createDirectories(dir);
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .writeValue(dir.resolve("bench.json").toFile(), new ArrayList<>(results.values()));
      StringBuilder table = new StringBuilder();
      table.append(
          String.format(
              Locale.ROOT,
              "%-28s %9s %13s %8s %9s%n",
              "system",
              "workers",
              "samples/s",
              "ratio",
              "test acc"));
      double reference =
          results.values().stream()
              .filter(r -> r.get("system").toString().startsWith("dl4j-fit"))
              .mapToDouble(r -> ((Number) r.get("samples_per_second")).doubleValue())
              .max()
              .orElse(Double.NaN);
      for (Map<String, Object> r : results.values()) {
        double sps = ((Number) r.get("samples_per_second")).doubleValue();
        table.append(
            String.format(
                Locale.ROOT,
                "%-28s %9s %13.0f %8s %9.4f%n",
                r.get("system"),
                r.get("workers") + "x" + r.get("threads_per_worker") + "t",
                sps,
                Double.isNaN(reference)
                    ? "n/a"
                    : String.format(Locale.ROOT, "%.2f", sps / reference),
                ((Number) r.get("test_accuracy")).doubleValue()));
      }
      table.append("ratio: samples/s over the faster DL4J fit() run\n");
      Files.writeString(dir.resolve("bench.txt"), table.toString(), StandardCharsets.UTF_8);
      console.print(table);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write bench results to " + dir + ": " + e, e);
    }
  }
}
