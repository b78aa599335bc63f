package io.spindle.driver;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

/**
 * The output directory of a run: {@code config.yaml} (the effective config), {@code metrics.jsonl},
 * {@code model.zip} (DL4J's ModelSerializer format) and {@code summary.json}, written last. Every
 * file but the metrics log is written to a temporary name and atomically renamed, so a reader never
 * sees half a file.
 */
public final class RunOutput {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private final Path dir;

  public RunOutput(Path dir) {
    this.dir = dir;
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot create output directory " + dir + ": " + e.getMessage(), e);
    }
  }

  public Path dir() {
    return dir;
  }

  public Path metricsFile() {
    return dir.resolve("metrics.jsonl");
  }

  public void writeConfig(SpindleConfig config) {
    write("config.yaml", ConfigLoader.toYaml(config).getBytes(StandardCharsets.UTF_8));
  }

  public void writeModel(MultiLayerNetwork net) {
    Path tmp = dir.resolve(".model.zip.tmp");
    try {
      ModelSerializer.writeModel(net, tmp.toFile(), false);
      move(tmp, dir.resolve("model.zip"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + dir.resolve("model.zip") + ": " + e, e);
    }
  }

  public void writeSummary(Map<String, Object> summary) {
    try {
      write("summary.json", JSON.writeValueAsBytes(summary));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void write(String name, byte[] content) {
    Path tmp = dir.resolve("." + name + ".tmp");
    try {
      Files.write(tmp, content);
      move(tmp, dir.resolve(name));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + dir.resolve(name) + ": " + e, e);
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
