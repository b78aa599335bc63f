package io.spindle.driver.sync;

import io.spindle.config.ClusterConfig;
import io.spindle.config.ConfigException;
import io.spindle.config.Precision;
import io.spindle.data.BatchLayout;
import io.spindle.driver.ParameterSync;
import org.apache.spark.api.java.JavaSparkContext;

/** Builds the sync strategy {@code cluster.sync} names: the one place that knows all three. */
public final class SyncStrategies {
  private SyncStrategies() {}

  /**
   * The strategy of {@code cluster} for a model of {@code precision} trained on batches laid out as
   * {@code layout}; refuses the collective engine for float64 models (it works in float32).
   */
  public static ParameterSync create(
      JavaSparkContext sc, ClusterConfig cluster, Precision precision, BatchLayout layout) {
    return switch (cluster.sync()) {
      case GRADIENT_SHARING -> new GradientSharing(sc, layout);
      case PARAMETER_AVERAGING -> new ParameterAveraging(sc, layout, cluster.averagingSteps());
      case COLLECTIVE -> {
        if (precision != Precision.FLOAT32) {
          throw new ConfigException(
              "cluster.sync collective (the default) needs model.precision float32, got "
                  + precision.configName()
                  + "; for float64 set cluster.sync to gradient_sharing or parameter_averaging");
        }
        yield new CollectiveSync(
            sc,
            layout,
            cluster.roundSteps(),
            cluster.compressionSpec(),
            cluster.shardOptimizer(),
            cluster.peerTimeoutSeconds() * 1000,
            true);
      }
    };
  }
}
