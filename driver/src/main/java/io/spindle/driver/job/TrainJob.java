package io.spindle.driver.job;

import io.spindle.config.ClusterConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.BarrierSlots;
import io.spindle.driver.EpochSource;
import io.spindle.driver.Evaluator;
import io.spindle.driver.ExecutorSlots;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RunOutput;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingPhase;
import io.spindle.driver.checkpoint.Checkpoint;
import io.spindle.driver.cluster.SparkContexts;
import io.spindle.driver.data.DatasetFiles;
import io.spindle.driver.data.DatasetLoader;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.listen.MetricsLog;
import io.spindle.driver.listen.RunSummaryWriter;
import io.spindle.driver.monitor.DeviceFacts;
import io.spindle.driver.monitor.HtmlReport;
import io.spindle.driver.monitor.SpindlePlugin;
import io.spindle.driver.monitor.TrainingGauges;
import io.spindle.driver.pretrain.LayerwisePretraining;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.worker.ModelSpec;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * One training run from a config: load the data, build the classifier, then run its phases through
 * the one training loop ({@link io.spindle.driver.TrainingCoordinator}, see {@link Phases}): each
 * autoencoder of layer-wise pre-training when {@code pretrain.enabled}, then training, which adds
 * the Spark gauges, the HTML report and the summary ({@code model.zip}, then {@code summary.json}).
 */
public final class TrainJob {
  private final JavaSparkContext sc;
  private final SpindleConfig config;
  private final RunOutput output;
  private final PrintStream console;
  private final Phases phases;
  private final int threads;

  private TrainJob(
      JavaSparkContext sc,
      SpindleConfig config,
      RunOutput output,
      PrintStream console,
      List<TrainingListener> listeners) {
    this.sc = sc;
    this.config = config;
    this.output = output;
    this.console = console;
    this.phases = new Phases(sc, config, output, console, listeners);
    this.threads = SparkContexts.threadsPerWorker(sc, config.cluster());
  }

  /** Fetches the data, then runs {@code config} on {@code sc}. */
  public static Map<String, Object> run(
      JavaSparkContext sc, SpindleConfig config, RunOutput output, PrintStream console) {
    return run(sc, config, DatasetFiles.fetch(config), output, console);
  }

  /** Runs {@code config} with the data set's cached {@code files}; returns the summary. */
  public static Map<String, Object> run(
      JavaSparkContext sc,
      SpindleConfig config,
      Map<String, Path> files,
      RunOutput output,
      PrintStream console) {
    return run(sc, config, files, output, console, List.of());
  }

  /**
   * Runs {@code config} on {@code sc} with the data set's cached {@code files}, writing everything
   * into {@code output}, with {@code listeners} added to every phase after the run's own; returns
   * the summary.
   */
  public static Map<String, Object> run(
      JavaSparkContext sc,
      SpindleConfig config,
      Map<String, Path> files,
      RunOutput output,
      PrintStream console,
      List<TrainingListener> listeners) {
    return new TrainJob(sc, config, output, console, listeners)
        .run(DatasetFiles.root(config, files));
  }

  private Map<String, Object> run(String dataRoot) {
    BarrierSlots.await(sc, config.cluster(), console); // collective: its slots, or a clear failure
    output.writeConfig(config);
    Nd4jRuntime.configureThreads(threads);
    int workers = config.cluster().workers();
    // the data is cut into logical shards (by default one per worker); each round's live workers
    // take one or more shards each
    int shards = config.cluster().shardCount();
    try (DistributedDataset data =
        DatasetLoader.load(
            sc,
            config.data(),
            dataRoot,
            config.training().batchSize(),
            shards,
            config.training().seed())) {
      EpochSource epochs = EpochSource.of(data);
      GlobalModel model = new GlobalModel(classifier(data, epochs));
      console.printf(
          "spindle: %s, %d train / %d test examples, %d parameters, %s x %d ND4J"
              + " thread(s), sync %s, global batch %d, %d steps per epoch%n",
          config.data().dataset(),
          data.numTrain(),
          data.numTest(),
          model.params().length(),
          workersLine(config.cluster()),
          threads,
          config.cluster().sync().configName(),
          data.batchSize(),
          data.stepsPerEpoch());
      if (data.skippedRecords() > 0) {
        console.printf(
            "spindle: skipped %d bad record(s) (data.skipBadRecords)%n", data.skippedRecords());
      }
      Map<String, Object> facts = new LinkedHashMap<>();
      facts.put("workers", workers);
      facts.put("min_workers", config.cluster().workerFloor());
      facts.put("shards", shards);
      facts.put("threads_per_worker", threads);
      facts.put("sync", config.cluster().sync().configName());
      facts.put("precision", config.model().precision().configName());
      // what the products computed in (bf16 falls back to float32 where it does not pay); the
      // driver JVM's verdict, which is the workers' in local mode
      facts.put(
          "compute_precision",
          io.spindle.model.fast.Bf16Products.effective(config.model(), data.numFeatures())
              .configName());
      facts.put("global_batch", data.batchSize());
      facts.put("dataset", config.data().dataset());
      facts.put("skipped_records", data.skippedRecords());
      facts.put("spark_master", sc.master());
      Optional<Checkpoint> resumeFrom = phases.newest(TrainingPhase.TRAINING, "");
      if (config.pretrain().enabled()) {
        facts.putAll(pretrain(data, model, resumeFrom.isPresent()));
      }
      SpindlePlugin.resetDeviceUses();
      TrainingPhase training =
          new TrainingPhase(
              TrainingPhase.TRAINING,
              "",
              model,
              epochs,
              new Evaluator(sc, data.test()),
              config.training().epochs(),
              config.training().maxSteps(),
              List.of());
      List<RunSummaryWriter> summary = new ArrayList<>();
      phases.run(
          training,
          resumeFrom,
          MetricsLog.Phase.TRAINING,
          (metrics, checkpoints, sync) -> {
            summary.add(
                new RunSummaryWriter(
                    output,
                    metrics,
                    facts,
                    () -> {
                      Map<String, Object> late = new LinkedHashMap<>(sync.facts());
                      late.putAll(checkpoints.facts());
                      ExecutorSlots.of(sc.getConf())
                          .ifPresent(e -> late.put("executor_events", e.events()));
                      late.putAll(DeviceFacts.of());
                      return late;
                    }));
            return List.of(
                new TrainingGauges(sc, config.training().epochs()),
                summary.get(0),
                // after the summary, so that the final report shows its facts
                new HtmlReport(output.dir(), "Spindle run: " + config.data().dataset()),
                // after the files it publishes are written (for a Hadoop URI output)
                output.publisher());
          });
      return summary.get(0).summary();
    }
  }

  /** "2 workers", or for an elastic run "2-4 workers (8 shards)". */
  static String workersLine(ClusterConfig cluster) {
    String range =
        cluster.elastic()
            ? cluster.workerFloor() + "-" + cluster.workers() + " workers"
            : cluster.workers() + " workers";
    return cluster.shardCount() == cluster.workers()
        ? range
        : range + " (" + cluster.shardCount() + " shards)";
  }

  /** The classifier's spec, with the optimiser resolved for the whole training run. */
  private ModelSpec classifier(DistributedDataset data, EpochSource epochs) {
    long runSteps = (long) config.training().epochs() * epochs.layout().stepsPerEpoch();
    return new ModelSpec(
        config.model(),
        config.optimizer().resolve(data.batchSize(), runSteps),
        data.numFeatures(),
        data.numClasses(),
        config.training().seed(),
        threads,
        null,
        config.training().accumulate());
  }

  /**
   * Pre-trains the classifier's hidden layers, each autoencoder a phase of its own; skipped when
   * training resumes from a checkpoint, which holds the pre-trained (and since fine-tuned) weights.
   */
  private Map<String, Object> pretrain(
      DistributedDataset data, GlobalModel model, boolean trainingResumes) {
    LayerwisePretraining.validate(config);
    if (trainingResumes) {
      console.println(
          "spindle: resumed after pretraining; the checkpoint holds the pretrained weights, so"
              + " pretraining is skipped");
      return Map.of("pretrain_skipped_on_resume", true);
    }
    return new LayerwisePretraining(sc, config, data, threads).run(model, phases::pretrain).facts();
  }

  /** The checkpoint directory: {@code checkpoint.dir}, else {@code checkpoints} in the output. */
  public static String checkpointDir(SpindleConfig config, RunOutput output) {
    String dir = config.checkpoint().dir();
    return dir.isEmpty() ? output.checkpointsLocation() : dir;
  }
}
