package io.spindle.driver.score;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DataFormatException;
import io.spindle.driver.cluster.SparkContexts;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * What {@code predict} and {@code evaluate} share: the trained model (read before Spark starts, so
 * a bad model fails in seconds), the effective config (the run's config plus {@code --set}
 * overrides: how inputs are decoded, where Spark runs), and the Spark context.
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
    TrainedModel model = TrainedModel.load(modelLocation, new Configuration());
    List<String> all = new ArrayList<>(overrides);
    SpindleConfig config =
        ConfigLoader.parse(
            ConfigLoader.toYaml(model.configOrDefaults()),
            model.runDir() != null ? model.runDir() + "/config.yaml" : "defaults",
            all);
    JavaSparkContext sc = SparkContexts.create(config.cluster(), app, true);
    sc.setLogLevel("WARN");
    return new ScoringSession(model, config, sc);
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
