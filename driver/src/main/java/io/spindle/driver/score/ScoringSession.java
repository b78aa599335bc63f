package io.spindle.driver.score;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DataFormatException;
import io.spindle.driver.cluster.SparkContexts;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * What {@code predict} and {@code evaluate} share: the trained model (located and its config read
 * before Spark starts, its network read while Spark starts, so a bad model fails in seconds), the
 * effective config (the run's config plus {@code --set} overrides: how inputs are decoded, where
 * Spark runs), and the Spark context.
 */
public final class ScoringSession implements AutoCloseable {
  private final TrainedModel model;
  private final SpindleConfig config;
  private final JavaSparkContext sc;

  private ScoringSession(TrainedModel model, SpindleConfig config, JavaSparkContext sc) {
    this.model = model;
    this.config = config;
    this.sc = sc;
  }

  /**
   * @param overrides {@code key=value} settings on top of the run's config (data.*, cluster.*)
   */
  public static ScoringSession open(String modelLocation, List<String> overrides, String app) {
    return open(modelLocation, overrides, app, null);
  }

  /**
   * As {@link #open(String, List, String)}; Spark starts on its own thread while this one reads the
   * network (DL4J's restore and ND4J's native start-up): each takes seconds and neither needs the
   * other. The quick checks (the model's location, its config, the overrides) still come first, and
   * a model that cannot be read stops the Spark context before the error is thrown.
   *
   * @param warmUp run on Spark's thread once the context is up, while the network still loads (e.g.
   *     a first write that loads and compiles what the real one needs); null for none. It must not
   *     fail: it is only a head start.
   */
  public static ScoringSession open(
      String modelLocation,
      List<String> overrides,
      String app,
      BiConsumer<JavaSparkContext, SpindleConfig> warmUp) {
    TrainedModel.Located located = TrainedModel.locate(modelLocation, new Configuration());
    List<String> all = new ArrayList<>(overrides);
    SpindleConfig config =
        ConfigLoader.parse(
            ConfigLoader.toYaml(located.configOrDefaults()),
            located.runDir() != null ? located.runDir() + "/config.yaml" : "defaults",
            all);
    CompletableFuture<JavaSparkContext> spark = new CompletableFuture<>();
    Thread starter =
        new Thread(
            () -> {
              try {
                JavaSparkContext sc = SparkContexts.create(config.cluster(), app, true);
                sc.setLogLevel("WARN");
                if (warmUp != null) {
                  warmUp.accept(sc, config);
                }
                spark.complete(sc);
              } catch (Throwable t) {
                spark.completeExceptionally(t);
              }
            },
            "spindle-spark-start");
    starter.setDaemon(true);
    starter.start();
    TrainedModel model;
    try {
      model = located.load();
    } catch (RuntimeException | Error e) {
      try {
        spark.join().close();
      } catch (CompletionException ignored) {
        // Spark did not start either; the model's error is the one to report
      }
      throw e;
    }
    try {
      return new ScoringSession(model, config, spark.join());
    } catch (CompletionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }

  public TrainedModel model() {
    return model;
  }

  public SpindleConfig config() {
    return config;
  }

  public JavaSparkContext sc() {
    return sc;
  }

  /** Reads {@code uri} and checks, on its first example, that the model takes its features. */
  public ScoringInput read(String uri, String format, int partitions) {
    ScoringInput input =
        ScoringInput.read(sc, uri, format, config.data(), model.numClasses(), partitions);
    sc.setJobDescription("check the input's first example against the model");
    List<ScoringInput.Item> first = input.items().take(1);
    if (first.isEmpty()) {
      throw new DataFormatException(uri + ": the input holds no examples");
    }
    int got = first.get(0).features().length;
    int want = model.network().numInputs();
    if (got != want) {
      String what =
          input.table()
              ? "column '" + config.data().featureColumn() + "' holds vectors of size " + got
              : "its examples have " + got + " features";
      throw new DataFormatException(
          uri
              + ": "
              + what
              + ", but the model "
              + model.modelFile()
              + " takes "
              + want
              + " (a model of another architecture, or the wrong input?)");
    }
    sc.setJobDescription(null);
    return input;
  }

  @Override
  public void close() {
    sc.close();
  }
}
