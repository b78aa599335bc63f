package io.spindle.config;

/** Activation functions a layer can use. */
public enum Activation implements ConfigEnum {
  RELU,
  TANH,
  SIGMOID,
  IDENTITY,
  SOFTMAX
}
