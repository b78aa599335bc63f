package io.spindle.driver;

import io.spindle.config.ResumeMode;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetDownloader;
import io.spindle.data.DatasetSpec;
import io.spindle.driver.checkpoint.Checkpoint;
import io.spindle.driver.checkpoint.CheckpointListener;
import io.spindle.driver.checkpoint.CheckpointStore;
import io.spindle.driver.checkpoint.Resume;
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
import java.util.Optional;
import org.apache.spark.api.java.JavaSparkContext;

/** One training run from a config: data, model, sync strategy, loop, outputs. */
public final class TrainJob {
  private TrainJob() {}

  public static ParameterSync syncFor(
      JavaSparkContext sc, SpindleConfig config, DistributedDataset data) {
    var cluster = config.cluster();
    return switch (cluster.sync()) {
      case GRADIENT_SHARING -> new GradientSharing(sc);
      case PARAMETER_AVERAGING -> new ParameterAveraging(sc, cluster.averagingSteps());
      case COLLECTIVE -> {
        if (config.model().precision() != io.spindle.config.Precision.FLOAT32) {
          throw new io.spindle.config.ConfigException(
              "cluster.sync collective (the default) needs model.precision float32, got "
                  + config.model().precision().configName()
                  + "; for float64 set cluster.sync to gradient_sharing or parameter_averaging");
        }
        yield new CollectiveSync(
            sc,
            cluster.roundSteps(),
            cluster.wire(),
            cluster.shardOptimizer(),
            data.numTrain(),
            data.batchSize(),
            cluster.peerTimeoutSeconds() * 1000,
            true,
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

  /** The checkpoint directory: {@code checkpoint.dir}, else {@code checkpoints} in the output. */
  public static String checkpointDir(SpindleConfig config, RunOutput output) {
    String dir = config.checkpoint().dir();
    return dir.isEmpty() ? output.checkpointsLocation() : dir;
  }

  /**
   * With {@code checkpoint.resume: auto}, loads the newest valid checkpoint into {@code model} and
   * returns its state (damaged ones are skipped with a warning); otherwise, or with none, a fresh
   * state.
   */
  private static TrainingState resume(
      CheckpointStore store,
      SpindleConfig config,
      GlobalModel model,
      int stepsPerEpoch,
      PrintStream console) {
    if (config.checkpoint().resume() != ResumeMode.AUTO) {
      return new TrainingState();
    }
    long start = System.nanoTime();
    Optional<Checkpoint> newest = store.newestValid(console);
    if (newest.isEmpty()) {
      console.println("spindle: no valid checkpoint in " + store.root() + "; starting at step 0");
      return new TrainingState();
    }
    Checkpoint cp = newest.get();
    TrainingState state = Resume.apply(cp, config, model, stepsPerEpoch);
    console.printf(
        java.util.Locale.ROOT,
        "spindle: resuming from %s: global step %d, epoch %d, step %d of the epoch (loaded and"
            + " verified in %.2f s)%n",
        cp.path(),
        state.globalStep(),
        state.epoch() + 1,
        state.stepInEpoch(),
        (System.nanoTime() - start) / 1e9);
    return state;
  }

  /**
   * With {@code pretrain.enabled}, pre-trains the hidden layers of a fresh {@code model} layer by
   * layer (see {@link io.spindle.driver.pretrain.LayerwisePretraining}) and returns its summary
   * facts; a run resumed from a checkpoint skips it, since the checkpoint holds the pre-trained
   * (and since fine-tuned) weights.
   */
  private static Map<String, Object> pretrain(
      JavaSparkContext sc,
      SpindleConfig config,
      DistributedDataset data,
      int threads,
      GlobalModel model,
      TrainingState start,
      PrintStream console) {
    if (!config.pretrain().enabled()) {
      return Map.of();
    }
    io.spindle.driver.pretrain.LayerwisePretraining.validate(config);
    if (start.globalStep() > 0) {
      console.println(
          "spindle: resumed after pretraining; the checkpoint holds the pretrained weights, so"
              + " pretraining is skipped");
      return Map.of("pretrain_skipped_on_resume", true);
    }
    if (config.checkpoint().resume() == ResumeMode.AUTO) {
      console.println(
          "spindle: pretraining is not checkpointed; it runs again from the first layer");
    }
    return new io.spindle.driver.pretrain.LayerwisePretraining(sc, config, data, threads, console)
        .run(model)
        .facts();
  }

  /**
   * The optimiser every sync strategy applies: {@code optimizer} with the linear scaling rule
   * applied to the global batch and a schedule of {@code steps: 0} stretched over the whole run.
   */
  static io.spindle.config.OptimizerConfig effectiveOptimizer(
      SpindleConfig config, DistributedDataset data) {
    long runSteps = (long) config.training().epochs() * data.stepsPerEpoch();
    return config.optimizer().resolve(data.batchSize(), runSteps);
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
    if (!config.data().path().isEmpty() || config.data().effectiveFormat().equals("generated")) {
      return Map.of(); // read from data.path on the executors, or generated: nothing to download
    }
    Path cache =
        config.data().cacheDir().isEmpty() ? defaultCacheDir() : Path.of(config.data().cacheDir());
    if (io.spindle.data.ArchiveSpec.isArchive(config.data().dataset())) {
      io.spindle.data.ArchiveSpec archive =
          io.spindle.data.ArchiveSpec.named(config.data().dataset());
      return Map.of(
          "folder", DatasetDownloader.fetchArchive(archive, config.data().mirror(), cache));
    }
    DatasetSpec spec = DatasetSpec.named(config.data().dataset());
    return DatasetDownloader.fetch(spec, config.data().mirror(), cache);
  }

  /** Where the data set's files are: data.path, or the cache folder {@link #fetchData} filled. */
  static String dataRoot(SpindleConfig config, Map<String, Path> files) {
    if (!config.data().path().isEmpty()) {
      return config.data().path();
    }
    if (config.data().effectiveFormat().equals("generated")) {
      return "";
    }
    if (files.containsKey("folder")) {
      return files.get("folder").toUri().toString();
    }
    return files.get("train-images-idx3-ubyte.gz").getParent().toUri().toString();
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
    BarrierSlots.await(sc, config.cluster(), console); // collective: its slots, or a clear failure
    output.writeConfig(config);
    int workers = config.cluster().workers();
    int threads = SparkContexts.threadsPerWorker(sc, config.cluster());
    Nd4jRuntime.configureThreads(threads);
    try (DistributedDataset data =
        io.spindle.driver.data.DatasetLoader.load(
            sc,
            config.data(),
            dataRoot(config, files),
            config.training().batchSize(),
            workers,
            config.training().seed())) {
      ModelSpec modelSpec =
          new ModelSpec(
              config.model(),
              effectiveOptimizer(config, data),
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
          data.batchSize(),
          data.stepsPerEpoch());
      if (data.skippedRecords() > 0) {
        console.printf(
            "spindle: skipped %d bad record(s) (data.skipBadRecords)%n", data.skippedRecords());
      }
      ParameterSync sync = syncFor(sc, config, data);
      CheckpointStore checkpoints =
          CheckpointStore.open(checkpointDir(config, output), sc.hadoopConfiguration());
      TrainingState start = resume(checkpoints, config, model, data.stepsPerEpoch(), console);
      Map<String, Object> pretrained = pretrain(sc, config, data, threads, model, start, console);
      CheckpointListener checkpointer =
          new CheckpointListener(checkpoints, config, sync.name(), console, start.globalStep());
      try (MetricsLog metrics =
          new MetricsLog(
              output.metricsFile(),
              console,
              config.training().logEvery(),
              config.training().epochs(),
              start.globalStep() > 0)) {
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("workers", workers);
        facts.put("threads_per_worker", threads);
        facts.put("sync", sync.name());
        facts.put("global_batch", data.batchSize());
        facts.put("dataset", config.data().dataset());
        facts.put("skipped_records", data.skippedRecords());
        facts.put("spark_master", sc.master());
        facts.putAll(pretrained);
        io.spindle.driver.monitor.SpindlePlugin.resetDeviceUses();
        RunSummaryWriter summary =
            new RunSummaryWriter(
                output,
                metrics,
                facts,
                () -> {
                  Map<String, Object> late = syncFacts(sync, workers, model);
                  late.putAll(checkpointer.facts());
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
                    checkpointer,
                    new io.spindle.driver.monitor.TrainingGauges(sc, config.training().epochs()),
                    new io.spindle.driver.monitor.HtmlReport(
                        output.dir(), "Spindle run: " + config.data().dataset()),
                    output.publisher(),
                    summary),
                config.training().epochs(),
                config.training().maxSteps())
            .fit(start);
        return summary.summary();
      }
    }
  }
}
