package io.spindle.config;

/** The optimisers Spindle applies to the flat global parameter vector. */
public enum OptimizerType implements ConfigEnum {
  SGD,
  MOMENTUM,
  NESTEROV,
  ADAGRAD,
  RMSPROP,
  ADAM
}
