package io.spindle.config;

/** How the work of the workers is merged into the one global model. */
public enum SyncMode implements ConfigEnum {
  /** Every step: gradients of all workers summed, one global optimiser step. */
  GRADIENT_SHARING,
  /** Every K local steps: parameters and optimiser state averaged, weighted by examples. */
  PARAMETER_AVERAGING,
  /**
   * Gradient sharing through the collective engine: one barrier stage per round of R steps, the
   * workers all-reducing gradients with each other over TCP every step.
   */
  COLLECTIVE
}
