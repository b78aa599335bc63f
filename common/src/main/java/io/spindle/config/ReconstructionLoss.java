package io.spindle.config;

/**
 * The loss an autoencoder's decoder minimises against its clean input: mean squared error, or
 * binary cross-entropy (inputs and reconstructions in [0, 1], so a sigmoid decoder).
 */
public enum ReconstructionLoss implements ConfigEnum {
  MSE,
  BINARY_CROSS_ENTROPY
}
