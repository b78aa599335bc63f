package io.spindle.config;

/**
 * A group of parameters that weight decay can leave out ({@code optimizer.weightDecayExclude}).
 * Batch normalisation's running mean and variance are never decayed (they are statistics, not
 * parameters the optimiser trains).
 */
public enum ParameterGroup implements ConfigEnum {
  /** Batch normalisation's scale (gamma) and shift (beta). */
  BATCH_NORM,
  /** The biases of convolution, dense, recurrent and output layers. */
  BIAS
}
