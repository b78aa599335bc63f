package io.spindle.driver.checkpoint;

import io.spindle.compress.ExchangeState;
import io.spindle.compress.GradientLayout;
import io.spindle.config.CheckpointConfig;
import io.spindle.config.ClusterConfig;
import io.spindle.config.CompressionSpec;
import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.DataConfig;
import io.spindle.config.LayerType;
import io.spindle.config.SpindleConfig;
import io.spindle.config.TrainingConfig;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.TrainingState;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Restores a run from a checkpoint: the parameters, the optimiser state, the lossy gradient
 * exchange's state ({@code compression.bin}) and the counters, after checking that the checkpoint
 * belongs to a run with the same trajectory. Keys that may change on resume (they do not change the
 * arithmetic): training.epochs, training.maxSteps, training.logEvery, checkpoint.*, cluster.master,
 * cluster.threadsPerWorker, cluster.peerTimeoutSeconds, cluster.executorWaitSeconds, data.mirror,
 * data.cacheDir; and the worker counts cluster.workers and cluster.minWorkers, with cluster.shards:
 * a checkpoint holds the whole parameter vector and optimiser state (the collective engine's ZeRO-1
 * chunks put back together) and an epoch cursor that does not depend on the workers, and every
 * random draw is keyed by step and example, so a checkpoint written with N workers resumes with M.
 * Only a model with batch norm keeps its number of logical shards (cluster.shards, or
 * cluster.workers when that is 0): its batch statistics are those of a shard. And a lossy
 * cluster.compression keeps cluster.workers: its state is one error-feedback residual per worker.
 */
public final class Resume {
  private Resume() {}

  /**
   * Loads {@code checkpoint} into {@code model} and returns the state to continue from. Throws
   * {@link ConfigException} if the current config would train a different trajectory.
   */
  public static TrainingState apply(
      Checkpoint checkpoint, SpindleConfig config, GlobalModel model, int stepsPerEpoch) {
    return apply(checkpoint, config, model, stepsPerEpoch, config.training().epochs());
  }

  /**
   * As {@link #apply(Checkpoint, SpindleConfig, GlobalModel, int)} for a phase of {@code epochs}
   * epochs (an autoencoder of layer-wise pre-training: {@code pretrain.epochsPerLayer}).
   */
  public static TrainingState apply(
      Checkpoint checkpoint,
      SpindleConfig config,
      GlobalModel model,
      int stepsPerEpoch,
      int epochs) {
    String where = checkpoint.path() + "/" + CheckpointStore.CONFIG;
    SpindleConfig saved = ConfigLoader.parse(checkpoint.configYaml(), where, List.of());
    List<String> differ = differences(trajectory(saved), trajectory(config));
    if (!differ.isEmpty()) {
      throw new ConfigException(
          "cannot resume from "
              + checkpoint.path()
              + ": it was written by a run with different "
              + String.join(", ", differ)
              + " settings (see "
              + where
              + "); only training.epochs, training.maxSteps, training.logEvery, checkpoint.*,"
              + " cluster.master, cluster.workers, cluster.minWorkers, cluster.shards (but for"
              + " batch norm), cluster.threadsPerWorker, cluster.peerTimeoutSeconds,"
              + " cluster.executorWaitSeconds, data.mirror and data.cacheDir may change on"
              + " resume");
    }
    if (hasBatchNorm(config) && saved.cluster().shardCount() != config.cluster().shardCount()) {
      throw new ConfigException(
          "cannot resume from "
              + checkpoint.path()
              + ": its model has batch norm, whose batch statistics are those of one logical"
              + " shard of the global batch, and it was written with "
              + saved.cluster().shardCount()
              + " shards, this run has "
              + config.cluster().shardCount()
              + " (cluster.shards, or cluster.workers when that is 0); set cluster.shards to "
              + saved.cluster().shardCount()
              + " to resume it on up to that many workers");
    }
    if (config.cluster().compression().lossy()
        && saved.cluster().workers() != config.cluster().workers()) {
      throw new ConfigException(
          "cannot resume from "
              + checkpoint.path()
              + ": it was written with cluster.workers "
              + saved.cluster().workers()
              + " and cluster.compression "
              + config.cluster().compression().configName()
              + ", whose error-feedback state is one residual per worker; this run has"
              + " cluster.workers "
              + config.cluster().workers()
              + "; set cluster.workers to "
              + saved.cluster().workers()
              + " (or cluster.compression: none, which has no per-worker state)");
    }
    if (checkpoint.stepsPerEpoch() != stepsPerEpoch) {
      throw new ConfigException(
          "cannot resume from "
              + checkpoint.path()
              + ": it has "
              + checkpoint.stepsPerEpoch()
              + " steps per epoch, this run "
              + stepsPerEpoch
              + " (different data?)");
    }
    boolean float64 = model.params().dataType() == DataType.DOUBLE;
    if (checkpoint.float64() != float64
        || checkpoint.numParams() != model.params().length()
        || checkpoint.optimizerStateLength() != model.globalStep().state().length()) {
      throw new CheckpointException(
          checkpoint.path()
              + ": expected "
              + model.params().length()
              + " parameters and "
              + model.globalStep().state().length()
              + " optimiser state values in "
              + (float64 ? "float64" : "float32")
              + ", found "
              + checkpoint.numParams()
              + " and "
              + checkpoint.optimizerStateLength()
              + " in "
              + (checkpoint.float64() ? "float64" : "float32"));
    }
    model.params().assign(checkpoint.params());
    if (checkpoint.optimizerStateLength() > 0) {
      model.globalStep().setState(checkpoint.optimizerState());
    }
    model.setExchangeState(exchangeState(checkpoint, config, model));
    int epoch = checkpoint.epoch();
    int step = checkpoint.stepInEpoch();
    if (checkpoint.epochEvaluated() && step >= stepsPerEpoch && epoch + 1 < epochs) {
      epoch++;
      step = 0;
    }
    return TrainingState.resumedAt(epoch, step, checkpoint.globalStep(), checkpoint.examplesSeen());
  }

  /**
   * The checkpoint's exchange state, checked against the run's compression and model, or null when
   * the run keeps none (or the checkpoint precedes the first round).
   */
  private static ExchangeState exchangeState(
      Checkpoint checkpoint, SpindleConfig config, GlobalModel model) {
    String where = checkpoint.path() + "/" + CheckpointStore.COMPRESSION;
    CompressionSpec spec = config.cluster().compressionSpec();
    byte[] bytes = checkpoint.exchangeState();
    if (bytes == null) {
      if (spec.scheme().lossy() && checkpoint.globalStep() > 0) {
        throw new CheckpointException(
            checkpoint.path()
                + ": expected "
                + CheckpointStore.COMPRESSION
                + " (cluster.compression "
                + spec
                + " keeps error-feedback residuals), found none in the manifest");
      }
      return null;
    }
    ExchangeState state;
    try {
      state = ExchangeState.fromBytes(bytes, where);
    } catch (IllegalArgumentException e) {
      throw new CheckpointException(e.getMessage(), e);
    }
    long layout = GradientLayout.of(model.network()).fingerprint();
    if (!state.scheme().equals(spec.toString())
        || state.workers().get(0).layoutFingerprint() != layout) {
      throw new CheckpointException(
          where
              + ": expected the state of compression "
              + spec
              + " for layout "
              + Long.toHexString(layout)
              + ", found "
              + state.scheme()
              + " for layout "
              + Long.toHexString(state.workers().get(0).layoutFingerprint()));
    }
    return state;
  }

  /** The config with every key that may change on resume set to a fixed value. */
  static SpindleConfig trajectory(SpindleConfig c) {
    TrainingConfig t = c.training();
    ClusterConfig k = c.cluster();
    DataConfig d = c.data();
    return new SpindleConfig(
        c.model(),
        c.optimizer(),
        // augmentation draws are part of the trajectory
        new DataConfig(d.dataset(), "", "", d.trainLimit()).withAugment(d.augment()),
        // a schedule stretched over the run (steps: 0) makes training.epochs part of it
        new TrainingConfig(
            c.optimizer().schedule().followsRunLength() ? t.epochs() : 1,
            t.batchSize(),
            t.seed(),
            1,
            0,
            t.accumulate()),
        // the worker counts and the shards may change (the shards of batch norm: see apply)
        new ClusterConfig(
            "",
            1,
            k.sync(),
            k.averagingSteps(),
            0,
            k.roundSteps(),
            k.compression(),
            k.powersgdRank(),
            k.topkFraction(),
            k.shardOptimizer(),
            1,
            0,
            0,
            0),
        CheckpointConfig.defaults(),
        c.pretrain());
  }

  /** Whether the model normalises over the batch (its statistics depend on the shard). */
  static boolean hasBatchNorm(SpindleConfig c) {
    return c.model().layers().stream().anyMatch(l -> l.type() == LayerType.BATCH_NORM);
  }

  private static List<String> differences(SpindleConfig a, SpindleConfig b) {
    List<String> out = new ArrayList<>();
    if (!a.model().equals(b.model())) {
      out.add("model");
    }
    if (!a.optimizer().equals(b.optimizer())) {
      out.add("optimizer");
    }
    if (!a.data().equals(b.data())) {
      out.add("data");
    }
    if (!a.training().equals(b.training())) {
      TrainingConfig x = a.training();
      TrainingConfig y = b.training();
      List<String> keys = new ArrayList<>();
      if (x.batchSize() != y.batchSize()) {
        keys.add("training.batchSize");
      }
      if (x.seed() != y.seed()) {
        keys.add("training.seed");
      }
      if (x.accumulate() != y.accumulate()) {
        keys.add("training.accumulate");
      }
      if (x.epochs() != y.epochs()) {
        keys.add(
            "training.epochs (optimizer.schedule.steps 0 stretches the schedule over the run)");
      }
      out.add(keys.isEmpty() ? "training" : String.join(", ", keys));
    }
    if (!a.cluster().equals(b.cluster())) {
      out.add("cluster");
    }
    if (!a.pretrain().equals(b.pretrain())) {
      out.add("pretrain");
    }
    return out;
  }
}
