package io.spindle.driver;

import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetDownloader;
import io.spindle.data.DatasetSpec;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.listen.DivergenceGuard;
import io.spindle.driver.listen.MetricsLog;
import io.spindle.driver.listen.RunSummaryWriter;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.driver.sync.GradientSharing;
import io.spindle.driver.sync.ParameterAveraging;
import io.spindle.driver.sync.ParameterSync;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.worker.ModelSpec;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;

/** One training run from a config: data, model, sync strategy, loop, outputs. */
public final class TrainJob {
  private TrainJob() {}

  static ParameterSync syncFor(JavaSparkContext sc, SpindleConfig config, DistributedDataset data) {
    var cluster = config.cluster();
    return switch (cluster.sync()) {
      case GRADIENT_SHARING -> new GradientSharing(sc);
      case PARAMETER_AVERAGING -> new ParameterAveraging(sc, cluster.averagingSteps());
      case COLLECTIVE -> {
        if (config.model().precision() != io.spindle.config.Precision.FLOAT32) {
          throw new io.spindle.config.ConfigException(
              "cluster.sync collective needs model.precision float32, got "
                  + config.model().precision().configName());
        }
        yield new CollectiveSync(
            sc,
            cluster.roundSteps(),
            cluster.wire(),
            cluster.shardOptimizer(),
            data.numTrain(),
            config.training().batchSize(),
            cluster.peerTimeoutSeconds() * 1000,
            -1);
      }
    };
  }

  /** Traffic figures of the collective engine, known only at the end of the run. */
  private static Map<String, Object> syncFacts(ParameterSync sync, int workers, GlobalModel model) {
    Map<String, Object> out = new LinkedHashMap<>();
    if (sync instanceof CollectiveSync c && c.steps() > 0) {
      double modelBytes = 4.0 * model.params().length();
      out.put("bytes_sent_per_worker_per_step", (double) c.bytesSent() / workers / c.steps());
      out.put("allreduce_bound_bytes", 2.0 * (workers - 1) / workers * modelBytes);
      out.put("compute_seconds_per_step", c.computeSecondsPerStep());
      out.put("collective_seconds_per_step", c.collectiveSecondsPerStep());
      out.put("wall_seconds_per_step", c.wallSecondsPerStep());
    }
    return out;
  }

  /** Default cache folder of downloaded data sets. */
  public static Path defaultCacheDir() {
    return Path.of(System.getProperty("user.home"), ".cache", "spindle");
  }

  /**
   * Downloads (or takes from the mirror) and verifies the data set's files into the cache; returns
   * file name to cached path. Runs before Spark starts, so bad data fails fast.
   */
  public static Map<String, Path> fetchData(SpindleConfig config) {
    DatasetSpec spec = DatasetSpec.named(config.data().dataset());
    Path cache =
        config.data().cacheDir().isEmpty() ? defaultCacheDir() : Path.of(config.data().cacheDir());
    return DatasetDownloader.fetch(spec, config.data().mirror(), cache);
  }

  /** Fetches the data, then runs {@code config} on {@code sc}. */
  public static Map<String, Object> run(
      JavaSparkContext sc, SpindleConfig config, RunOutput output, PrintStream console) {
    return run(sc, config, fetchData(config), output, console);
  }

  /**
   * Runs {@code config} on {@code sc} with the data set's cached {@code files}, writing everything
   * into {@code output}; returns the summary.
   */
  public static Map<String, Object> run(
      JavaSparkContext sc,
      SpindleConfig config,
      Map<String, Path> files,
      RunOutput output,
      PrintStream console) {
    output.writeConfig(config);
    DatasetSpec spec = DatasetSpec.named(config.data().dataset());
    int workers = config.cluster().workers();
    int threads = SparkContexts.threadsPerWorker(sc, config.cluster());
    Nd4jRuntime.configureThreads(threads);
    try (DistributedDataset data =
        DistributedDataset.idx(
            sc,
            files.get("train-images-idx3-ubyte.gz").toUri().toString(),
            files.get("train-labels-idx1-ubyte.gz").toUri().toString(),
            files.get("t10k-images-idx3-ubyte.gz").toUri().toString(),
            files.get("t10k-labels-idx1-ubyte.gz").toUri().toString(),
            spec.numClasses(),
            config.data().trainLimit(),
            config.training().batchSize(),
            workers,
            config.training().seed())) {
      ModelSpec modelSpec =
          new ModelSpec(
              config.model(),
              config.optimizer(),
              data.numFeatures(),
              data.numClasses(),
              config.training().seed(),
              threads);
      GlobalModel model = new GlobalModel(modelSpec);
      console.printf(
          "spindle: %s, %d train / %d test examples, %d parameters, %d workers x %d ND4J"
              + " thread(s), sync %s, global batch %d, %d steps per epoch%n",
          config.data().dataset(),
          data.numTrain(),
          data.numTest(),
          model.params().length(),
          workers,
          threads,
          config.cluster().sync().configName(),
          config.training().batchSize(),
          data.stepsPerEpoch());
      ParameterSync sync = syncFor(sc, config, data);
      try (MetricsLog metrics =
          new MetricsLog(
              output.metricsFile(),
              console,
              config.training().logEvery(),
              config.training().epochs())) {
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("workers", workers);
        facts.put("threads_per_worker", threads);
        facts.put("sync", sync.name());
        facts.put("global_batch", config.training().batchSize());
        facts.put("dataset", config.data().dataset());
        facts.put("spark_master", sc.master());
        io.spindle.driver.monitor.SpindlePlugin.resetDeviceUses();
        RunSummaryWriter summary =
            new RunSummaryWriter(
                output,
                metrics,
                facts,
                () -> {
                  Map<String, Object> late = syncFacts(sync, workers, model);
                  late.putAll(io.spindle.driver.monitor.DeviceFacts.of());
                  return late;
                });
        new TrainingCoordinator(
                data,
                model,
                sync,
                new Evaluator(sc, data.test()),
                List.of(
                    new DivergenceGuard(),
                    metrics,
                    new io.spindle.driver.monitor.TrainingGauges(sc, config.training().epochs()),
                    new io.spindle.driver.monitor.HtmlReport(
                        output.dir(), "Spindle run: " + config.data().dataset()),
                    summary),
                config.training().epochs(),
                config.training().maxSteps())
            .fit();
        return summary.summary();
      }
    }
  }
}
