package io.spindle.config;

/**
 * Loss functions of an output layer. Cross-entropy expects softmax outputs and one-hot labels;
 * binary cross-entropy expects sigmoid outputs and scores every class as an independent yes/no
 * against the one-hot label: {@code -sum_k [y_k log p_k + (1 - y_k) log(1 - p_k)]}.
 */
public enum Loss implements ConfigEnum {
  CROSS_ENTROPY,
  MSE,
  BINARY_CROSS_ENTROPY
}
