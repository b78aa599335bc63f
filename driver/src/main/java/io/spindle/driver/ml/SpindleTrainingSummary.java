package io.spindle.driver.ml;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training run behind a {@link SpindleModel}: the run's {@code summary.json} (accuracy and loss
 * of the last evaluation, epochs, steps, samples/s, wall time, sync, workers, traffic, checkpoints)
 * and its run directory, which holds {@code metrics.jsonl}, {@code report.html} and the
 * checkpoints.
 */
public final class SpindleTrainingSummary {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path runDir;
  private final Map<String, Object> summary;
  private final String evaluatedOn;

  SpindleTrainingSummary(Path runDir, Map<String, Object> summary, String evaluatedOn) {
    this.runDir = runDir;
    this.summary = Collections.unmodifiableMap(new LinkedHashMap<>(summary));
    this.evaluatedOn = evaluatedOn;
  }

  @SuppressWarnings("unchecked")
  static SpindleTrainingSummary fromJson(JsonNode json) {
    Map<String, Object> map = JSON.convertValue(json, LinkedHashMap.class);
    Object dir = map.remove("run_dir");
    Object on = map.remove("evaluated_on");
    return new SpindleTrainingSummary(
        dir == null ? null : Path.of(dir.toString()), map, on == null ? "" : on.toString());
  }

  /** The run directory (metrics.jsonl, report.html, checkpoints). */
  public Path runDir() {
    return runDir;
  }

  /** Every fact of the run's summary.json. */
  public Map<String, Object> asMap() {
    return summary;
  }

  /** "training rows" or "validation split": what the per-epoch evaluation measured. */
  public String evaluatedOn() {
    return evaluatedOn;
  }

  /** Accuracy of the last evaluation (see {@link #evaluatedOn}). */
  public double accuracy() {
    return number("test_accuracy");
  }

  /** Mean loss of the last evaluation. */
  public double loss() {
    return number("test_loss");
  }

  public int epochs() {
    return (int) number("epochs");
  }

  public long steps() {
    return (long) number("steps");
  }

  public double samplesPerSecond() {
    return number("samples_per_second");
  }

  public double wallSeconds() {
    return number("wall_seconds");
  }

  private double number(String key) {
    Object v = summary.get(key);
    return v instanceof Number n ? n.doubleValue() : Double.NaN;
  }

  /** The epoch records of metrics.jsonl (test loss and accuracy per epoch), in order. */
  public List<Map<String, Object>> epochRecords() {
    return records("epoch");
  }

  /** The step records of metrics.jsonl (loss, accuracy, learning rate, samples/s), in order. */
  public List<Map<String, Object>> stepRecords() {
    return records("step");
  }

  @SuppressWarnings("unchecked")
  private List<Map<String, Object>> records(String type) {
    List<Map<String, Object>> out = new ArrayList<>();
    if (runDir == null || !Files.isRegularFile(runDir.resolve("metrics.jsonl"))) {
      return out;
    }
    try {
      for (String line :
          Files.readAllLines(runDir.resolve("metrics.jsonl"), StandardCharsets.UTF_8)) {
        if (line.isBlank()) {
          continue;
        }
        JsonNode n = JSON.readTree(line);
        if (type.equals(n.path("type").asText())) {
          out.add(JSON.convertValue(n, LinkedHashMap.class));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + runDir.resolve("metrics.jsonl"), e);
    }
    return out;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("SpindleTrainingSummary(");
    for (Iterator<Map.Entry<String, Object>> it = summary.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Object> e = it.next();
      sb.append(e.getKey()).append('=').append(e.getValue());
      if (it.hasNext()) {
        sb.append(", ");
      }
    }
    return sb.append(", run ").append(runDir).append(')').toString();
  }
}
