package io.spindle.config;

/**
 * Activation functions a layer can use. {@code leaky_relu} is max(x, 0.01 x) (DL4J's default slope,
 * fixed).
 */
public enum Activation implements ConfigEnum {
  RELU,
  TANH,
  SIGMOID,
  IDENTITY,
  SOFTMAX,
  LEAKY_RELU
}
