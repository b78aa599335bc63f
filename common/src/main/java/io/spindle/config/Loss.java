package io.spindle.config;

/** Loss functions of an output layer. Cross-entropy expects softmax outputs and one-hot labels. */
public enum Loss implements ConfigEnum {
  CROSS_ENTROPY,
  MSE
}
