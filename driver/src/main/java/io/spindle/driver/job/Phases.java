package io.spindle.driver.job;

import io.spindle.config.ResumeMode;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.ParameterSync;
import io.spindle.driver.RunOutput;
import io.spindle.driver.TrainingCoordinator;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingPhase;
import io.spindle.driver.TrainingState;
import io.spindle.driver.checkpoint.Checkpoint;
import io.spindle.driver.checkpoint.CheckpointListener;
import io.spindle.driver.checkpoint.CheckpointStore;
import io.spindle.driver.checkpoint.Resume;
import io.spindle.driver.listen.DivergenceGuard;
import io.spindle.driver.listen.MetricsLog;
import io.spindle.driver.sync.SyncStrategies;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Runs the phases of one run through the training loop, each with the run's listeners in this
 * order: the divergence check (first, so nothing sees a diverged state), metrics and progress,
 * checkpoints into the phase's own directory, the phase's own listeners, and the caller's. A phase
 * resumes from its newest valid checkpoint when {@code checkpoint.resume} is {@code auto}.
 *
 * <p>Checkpoint directories: training's is {@code checkpoint.dir} (default {@code
 * <output>/checkpoints}); an autoencoder's is {@code <that>/pretrain-layer-K}.
 */
final class Phases {
  private final JavaSparkContext sc;
  private final SpindleConfig config;
  private final RunOutput output;
  private final PrintStream console;
  private final List<TrainingListener> extraListeners;
  private boolean metricsStarted;

  Phases(
      JavaSparkContext sc,
      SpindleConfig config,
      RunOutput output,
      PrintStream console,
      List<TrainingListener> extraListeners) {
    this.sc = sc;
    this.config = config;
    this.output = output;
    this.console = console;
    this.extraListeners = List.copyOf(extraListeners);
  }

  /** The listeners a phase may add that depend on the run's own ones. */
  @FunctionalInterface
  interface More {
    List<TrainingListener> of(
        MetricsLog metrics, CheckpointListener checkpoints, ParameterSync sync);
  }

  /** The checkpoints of phase {@code name}. */
  CheckpointStore store(String name) {
    String root = TrainJob.checkpointDir(config, output);
    String dir = name.equals(TrainingPhase.TRAINING) ? root : root + "/" + name;
    return CheckpointStore.open(dir, sc.hadoopConfiguration());
  }

  /**
   * With {@code checkpoint.resume: auto}, the newest valid checkpoint of phase {@code phase} (the
   * damaged ones are skipped with a warning); otherwise, or with none, empty.
   */
  Optional<Checkpoint> newest(String phase, String label) {
    if (config.checkpoint().resume() != ResumeMode.AUTO) {
      return Optional.empty();
    }
    CheckpointStore store = store(phase);
    Optional<Checkpoint> newest = store.newestValid(console);
    if (newest.isEmpty()) {
      console.println(
          "spindle: "
              + prefix(label)
              + "no valid checkpoint in "
              + store.root()
              + "; starting at step 0");
    }
    return newest;
  }

  /**
   * Trains an autoencoder of layer-wise pre-training: from its newest checkpoint when resuming, not
   * at all when that checkpoint is the phase's end (the model is then just loaded from it).
   */
  TrainingState pretrain(TrainingPhase phase) {
    Optional<Checkpoint> from = newest(phase.name(), phase.label());
    if (from.isPresent() && from.get().epochEvaluated()) {
      TrainingState done = resume(from.get(), phase);
      if (done.globalStep() >= phase.totalSteps()) {
        console.printf("spindle: %s: complete, not trained again%n", phase.label());
        metricsStarted = true;
        return done;
      }
    }
    return run(phase, from, new MetricsLog.Phase(phase.name(), phase.label(), false), none());
  }

  /** Adds nothing. */
  static More none() {
    return (metrics, checkpoints, sync) -> List.of();
  }

  /**
   * Runs {@code phase} through the training loop from {@code resumeFrom} (or from its start) with
   * the run's listeners, then those {@code more} adds.
   */
  TrainingState run(
      TrainingPhase phase, Optional<Checkpoint> resumeFrom, MetricsLog.Phase log, More more) {
    ParameterSync sync =
        SyncStrategies.create(
            sc, config.cluster(), config.model().precision(), phase.data().layout());
    TrainingState start = resumeFrom.map(cp -> resume(cp, phase)).orElseGet(TrainingState::new);
    CheckpointListener checkpoints =
        new CheckpointListener(
            store(phase.name()), config, sync.name(), console, start.globalStep());
    boolean append = metricsStarted || start.globalStep() > 0;
    metricsStarted = true;
    try (MetricsLog metrics =
        new MetricsLog(
            output.metricsFile(),
            console,
            config.training().logEvery(),
            phase.epochs(),
            append,
            log)) {
      List<TrainingListener> listeners =
          new ArrayList<>(List.of(new DivergenceGuard(), metrics, checkpoints));
      listeners.addAll(phase.listeners());
      listeners.addAll(more.of(metrics, checkpoints, sync));
      listeners.addAll(extraListeners);
      return new TrainingCoordinator(
              phase.data(),
              phase.model(),
              sync,
              phase.evaluator(),
              listeners,
              phase.epochs(),
              phase.maxSteps(),
              config.training().logEvery())
          .fit(start);
    }
  }

  /** Loads {@code cp} into the phase's model; the state to continue from. */
  private TrainingState resume(Checkpoint cp, TrainingPhase phase) {
    long start = System.nanoTime();
    TrainingState state =
        Resume.apply(
            cp, config, phase.model(), phase.data().layout().stepsPerEpoch(), phase.epochs());
    console.printf(
        Locale.ROOT,
        "spindle: %sresuming from %s: global step %d, epoch %d, step %d of the epoch (loaded and"
            + " verified in %.2f s)%n",
        prefix(phase.label()),
        cp.path(),
        state.globalStep(),
        state.epoch() + 1,
        state.stepInEpoch(),
        (System.nanoTime() - start) / 1e9);
    return state;
  }

  private static String prefix(String label) {
    return label.isEmpty() ? "" : label + ": ";
  }
}
