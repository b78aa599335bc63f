package io.spindle.config;

import java.util.List;

/** The whole, validated configuration of a run. Immutable; runtime counters live elsewhere. */
public record SpindleConfig(
    ModelConfig model,
    OptimizerConfig optimizer,
    DataConfig data,
    TrainingConfig training,
    ClusterConfig cluster,
    CheckpointConfig checkpoint,
    PretrainConfig pretrain)
    implements java.io.Serializable {
  /** A config with the default checkpoint settings. */
  public SpindleConfig(
      ModelConfig model,
      OptimizerConfig optimizer,
      DataConfig data,
      TrainingConfig training,
      ClusterConfig cluster) {
    this(model, optimizer, data, training, cluster, CheckpointConfig.defaults());
  }

  /** A config without autoencoder pre-training. */
  public SpindleConfig(
      ModelConfig model,
      OptimizerConfig optimizer,
      DataConfig data,
      TrainingConfig training,
      ClusterConfig cluster,
      CheckpointConfig checkpoint) {
    this(model, optimizer, data, training, cluster, checkpoint, PretrainConfig.defaults());
  }

  public SpindleConfig {
    Check.notNull("model", model);
    Check.notNull("optimizer", optimizer);
    Check.notNull("data", data);
    Check.notNull("training", training);
    Check.notNull("cluster", cluster);
    Check.notNull("checkpoint", checkpoint);
    Check.notNull("pretrain", pretrain);
  }

  /**
   * The default run: an MLP 784-800-800-10 on MNIST (ReLU, dropout 0.2 on the hidden activations),
   * Adam at 0.001, global batch 256, 8 epochs, two workers sharing gradients.
   */
  public static SpindleConfig defaults() {
    return new SpindleConfig(
        new ModelConfig(
            List.of(
                LayerConfig.dense(800, Activation.RELU),
                new LayerConfig(LayerType.DENSE, 800, Activation.RELU, 0.2, null),
                new LayerConfig(LayerType.OUTPUT, 10, Activation.SOFTMAX, 0.2, Loss.CROSS_ENTROPY)),
            WeightInit.HE_NORMAL,
            0.0,
            0.0,
            Precision.FLOAT32),
        OptimizerConfig.of(OptimizerType.ADAM, 1e-3),
        new DataConfig("mnist", "", "", 0),
        new TrainingConfig(8, 256, 42L, 20, 0),
        ClusterConfig.of("", 2, SyncMode.COLLECTIVE, 4));
  }
}
