package io.spindle.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.bench.BenchMetrics.EpochPoint;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import io.spindle.driver.cluster.SparkContexts;
import io.spindle.driver.data.DatasetFiles;
import io.spindle.driver.job.TrainJob;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Spindle itself, through the same {@link TrainJob} as {@code spindle train}, in its own Spark
 * context in local mode. Its run directory ({@code <output>/<system>/}) keeps the usual
 * metrics.jsonl and summary.json; the per-epoch test accuracy is read back from metrics.jsonl.
 */
final class SpindleBaseline {
  private static final ObjectMapper JSON = new ObjectMapper();

  private SpindleBaseline() {}

  static SystemRun run(String system, SpindleConfig config, Path runDir) {
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
    TrafficListener traffic = new TrafficListener();
    Map<String, Object> summary;
    try (JavaSparkContext sc = SparkContexts.create(run.cluster(), "spindle bench " + system)) {
      sc.setLogLevel("WARN");
      sc.sc().addSparkListener(traffic);
      PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
      summary = TrainJob.run(sc, run, DatasetFiles.fetch(run), new RunOutput(runDir), quiet);
    }
    int workers = ((Number) summary.get("workers")).intValue();
    long examples = ((Number) summary.get("examples")).longValue();
    long steps = ((Number) summary.get("steps")).longValue();
    int epochs = ((Number) summary.get("epochs")).intValue();
    double sparkBytes = traffic.bytesPerWorkerPerStep(workers, steps);
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("end_to_end_samples_per_second", summary.get("end_to_end_samples_per_second"));
    extra.put("compute_precision", summary.get("compute_precision"));
    Double steady = steadySamplesPerSecond(runDir.resolve("metrics.jsonl"));
    if (steady != null) {
      extra.put("steady_samples_per_second", steady);
      extra.put(
          "steady_method",
          "median of the step records' samples/s (one per logging window), each epoch's first"
              + " window (round start, JIT warm-up) left out: on a shared 2-core machine a"
              + " synchronous 2-worker run halves whenever another process takes a core, so the"
              + " mean over the run mixes two speeds");
    }
    extra.put("broadcast_bytes", traffic.broadcastBytes());
    extra.put("task_result_bytes", traffic.resultBytes());
    extra.put("shuffle_write_bytes", traffic.shuffleBytes());
    Double bytes = sparkBytes;
    String method = TrafficListener.METHOD;
    Double compute = null;
    Double wall = null;
    if (summary.containsKey("bytes_sent_per_worker_per_step")) {
      bytes = ((Number) summary.get("bytes_sent_per_worker_per_step")).doubleValue();
      method =
          "the collective engine's own counter of bytes written to its ring sockets, per worker"
              + " per step; Spark's own traffic (data shuffle, evaluation, round results) is in"
              + " spark_bytes_per_worker_per_step";
      extra.put("spark_bytes_per_worker_per_step", sparkBytes);
      compute = ((Number) summary.get("compute_seconds_per_step")).doubleValue();
      wall = ((Number) summary.get("wall_seconds_per_step")).doubleValue();
      extra.put("collective_seconds_per_step", summary.get("collective_seconds_per_step"));
    }
    return new SystemRun(
        system,
        workers,
        ((Number) summary.get("threads_per_worker")).intValue(),
        examples,
        steps,
        ((Number) summary.get("train_seconds")).doubleValue(),
        epochPoints(runDir.resolve("metrics.jsonl"), (double) examples / epochs),
        ((Number) summary.get("test_accuracy")).doubleValue(),
        bytes,
        method,
        compute,
        wall,
        "sum of training rounds (Spindle's train_seconds); the per-epoch data shuffle and"
            + " evaluation excluded (see end_to_end_samples_per_second)",
        extra);
  }

  /**
   * The median of the step records' samples/s in {@code metrics}, each epoch's first record left
   * out; null with fewer than 3 such records.
   */
  static Double steadySamplesPerSecond(Path metrics) {
    List<Double> rates = new ArrayList<>();
    int epoch = -1;
    try {
      for (String line : Files.readAllLines(metrics)) {
        JsonNode rec = JSON.readTree(line);
        if (!rec.path("type").asText().equals("step")) {
          continue;
        }
        int e = rec.path("epoch").asInt();
        if (e != epoch) {
          epoch = e;
          continue;
        }
        rates.add(rec.path("samples_per_second").asDouble());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + metrics + ": " + e, e);
    }
    if (rates.size() < 3) {
      return null;
    }
    java.util.Collections.sort(rates);
    int m = rates.size() / 2;
    return rates.size() % 2 == 1 ? rates.get(m) : (rates.get(m - 1) + rates.get(m)) / 2;
  }

  /** Test accuracy per epoch from metrics.jsonl, with cumulative training seconds. */
  static List<EpochPoint> epochPoints(Path metrics, double examplesPerEpoch) {
    List<EpochPoint> points = new ArrayList<>();
    double seconds = 0;
    try {
      for (String line : Files.readAllLines(metrics)) {
        JsonNode rec = JSON.readTree(line);
        if (rec.path("type").asText().equals("epoch")) {
          seconds += examplesPerEpoch / rec.path("samples_per_second").asDouble();
          points.add(
              new EpochPoint(
                  rec.path("epoch").asInt(), seconds, rec.path("test_accuracy").asDouble()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + metrics + ": " + e, e);
    }
    return points;
  }
}
