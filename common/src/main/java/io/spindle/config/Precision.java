package io.spindle.config;

/** Floating-point type of parameters, activations and gradients. */
public enum Precision implements ConfigEnum {
  FLOAT32,
  FLOAT64
}
