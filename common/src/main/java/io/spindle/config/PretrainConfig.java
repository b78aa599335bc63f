package io.spindle.config;

/**
 * Greedy layer-wise unsupervised pre-training of the hidden layers as (denoising) autoencoders,
 * before the supervised training of the whole network (see {@code
 * io.spindle.driver.pretrain.LayerwisePretraining}). Hidden layer k is trained as the encoder of a
 * one-hidden-layer autoencoder that reconstructs the clean output of the (frozen) layers below it
 * from a corrupted copy of it; its decoder is thrown away afterwards.
 *
 * @param enabled pre-train the hidden layers before training (false: train from the initialisation)
 * @param epochsPerLayer passes over the training set for each hidden layer (> 0)
 * @param maskProbability masking noise: each input of the autoencoder is set to 0 with this
 *     probability, in [0, 1) (0 = none)
 * @param gaussianSigma additive Gaussian noise of this standard deviation on every input, >= 0 (0 =
 *     none); with both noises 0 the autoencoders are plain (undercomplete) ones
 * @param decoderActivation activation of the first layer's decoder, which reconstructs the data;
 *     deeper decoders use the activation of the layer whose output they reconstruct
 * @param loss reconstruction loss against the clean input
 * @param learningRate the optimiser's learning rate while pre-training, >= 0 (0 = {@code
 *     optimizer.learningRate}); every other optimiser setting, the schedule included, is the {@code
 *     optimizer} section's, and a schedule that follows the run's length ({@code steps: 0}) follows
 *     each layer's pre-training
 */
public record PretrainConfig(
    boolean enabled,
    int epochsPerLayer,
    double maskProbability,
    double gaussianSigma,
    Activation decoderActivation,
    ReconstructionLoss loss,
    double learningRate)
    implements java.io.Serializable {
  public PretrainConfig {
    Check.positive("epochsPerLayer", epochsPerLayer);
    Check.inRange("maskProbability", maskProbability, 0.0, 1.0);
    Check.nonNegative("gaussianSigma", gaussianSigma);
    Check.notNull("decoderActivation", decoderActivation);
    Check.notNull("loss", loss);
    Check.nonNegative("learningRate", learningRate);
    if (decoderActivation == Activation.SOFTMAX) {
      throw new ConfigException(
          "decoderActivation must be sigmoid, tanh, relu or identity (one value per input), got"
              + " softmax");
    }
    if (loss == ReconstructionLoss.BINARY_CROSS_ENTROPY
        && decoderActivation != Activation.SIGMOID) {
      throw new ConfigException(
          "decoderActivation must be sigmoid with loss binary_cross_entropy (outputs in (0, 1)),"
              + " got "
              + decoderActivation.configName());
    }
  }

  /**
   * Off; when switched on: 5 epochs per layer, masking noise 0.25, sigmoid decoder, MSE, the
   * optimizer's learning rate.
   */
  public static PretrainConfig defaults() {
    return new PretrainConfig(false, 5, 0.25, 0.0, Activation.SIGMOID, ReconstructionLoss.MSE, 0.0);
  }

  /**
   * The optimiser of pre-training, before it is resolved for a layer's run: {@code optimizer} with
   * {@link #learningRate} as its base rate if set, and the same schedule.
   */
  public OptimizerConfig optimizer(OptimizerConfig optimizer) {
    if (learningRate == 0) {
      return optimizer;
    }
    return new OptimizerConfig(
        optimizer.type(),
        learningRate,
        optimizer.momentum(),
        optimizer.beta1(),
        optimizer.beta2(),
        optimizer.epsilon(),
        optimizer.rmsDecay(),
        optimizer.schedule());
  }
}
