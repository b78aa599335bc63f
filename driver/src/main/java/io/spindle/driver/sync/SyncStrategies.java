package io.spindle.driver.sync;

import io.spindle.config.ClusterConfig;
import io.spindle.config.ConfigException;
import io.spindle.config.Precision;
import io.spindle.data.BatchLayout;
import io.spindle.driver.ParameterSync;
import io.spindle.driver.WorkerPool;
import java.io.PrintStream;
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
    return create(sc, cluster, precision, layout, new PrintStream(PrintStream.nullOutputStream()));
  }

  /**
   * As above, on the live workers of {@code sc}'s executors ({@link WorkerPool}: at most {@code
   * cluster.workers}, at least {@code cluster.minWorkers}), reporting changes of the worker count
   * and waits for executors on {@code console}.
   */
  public static ParameterSync create(
      JavaSparkContext sc,
      ClusterConfig cluster,
      Precision precision,
      BatchLayout layout,
      PrintStream console) {
    WorkerPool pool = WorkerPool.of(sc, cluster, console);
    return switch (cluster.sync()) {
      case GRADIENT_SHARING -> new GradientSharing(sc, layout, pool);
      case PARAMETER_AVERAGING ->
          new ParameterAveraging(sc, layout, cluster.averagingSteps(), pool);
      case COLLECTIVE -> {
        if (precision.storage() != Precision.FLOAT32) {
          throw new ConfigException(
              "cluster.sync collective (the default) needs model.precision float32 or bf16, got "
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
                true,
                pool,
                console)
            .ringTransport(cluster.ringTransport());
      }
    };
  }
}
