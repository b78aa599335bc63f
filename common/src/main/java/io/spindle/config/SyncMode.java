package io.spindle.config;

/** How the work of the workers is merged into the one global model. */
public enum SyncMode implements ConfigEnum {
  /** Every step: gradients of all workers summed, one global optimiser step. */
  GRADIENT_SHARING,
  /** Every K local steps: parameters and optimiser state averaged, weighted by examples. */
  PARAMETER_AVERAGING
}
