package io.spindle.bench;

import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The models {@code spindle bench --model} names: {@code mlp}, the config given (by default
 * Spindle's default MLP, 784-800-800-10), and {@code cnn}, the network of {@code
 * deploy/examples/mnist-cnn.yaml} (bundled into this module's jar at build time) at a constant
 * learning rate, since the systems are compared at a constant rate.
 */
public final class BenchModels {
  public static final String MLP = "mlp";
  public static final String CNN = "cnn";
  static final String CNN_RESOURCE = "examples/mnist-cnn.yaml";

  private BenchModels() {}

  static String check(String name) {
    if (!name.equals(MLP) && !name.equals(CNN)) {
      throw new ConfigException("--model must be mlp or cnn, got '" + name + "'");
    }
    return name;
  }

  /** The config of {@code model} (null = mlp) with {@code sets} applied. */
  public static SpindleConfig config(String model, Path configFile, List<String> sets) {
    if (!CNN.equals(model)) {
      return ConfigLoader.load(configFile, sets);
    }
    if (configFile != null) {
      throw new ConfigException(
          "--model cnn takes the network of deploy/examples/mnist-cnn.yaml; drop --config "
              + configFile
              + " (or use --config without --model)");
    }
    List<String> all = new ArrayList<>();
    all.add("optimizer.schedule.type=constant");
    all.addAll(sets);
    return ConfigLoader.parse(cnnYaml(), "mnist-cnn.yaml (bundled)", all);
  }

  static String cnnYaml() {
    try (InputStream in = BenchModels.class.getResourceAsStream(CNN_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            "expected the resource io/spindle/bench/"
                + CNN_RESOURCE
                + " (deploy/examples/mnist-cnn.yaml, copied by bench/pom.xml)");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + CNN_RESOURCE + ": " + e, e);
    }
  }
}
