package io.spindle.config;

/**
 * How the flat feature vector of an example is shaped for the first layer ({@code model.input}).
 *
 * <ul>
 *   <li>{@code flat}: a vector, as the data set delivers it
 *   <li>{@code image}: channels x height x width, laid out channel-major (CHW: all of channel 0 row
 *       by row, then channel 1, ...), as the IDX and CIFAR readers deliver pixels
 *   <li>{@code sequence}: steps x features, laid out step-major (the features of step 0, then of
 *       step 1, ...); MNIST read this way with 28 steps of 28 features is one image row per step
 * </ul>
 */
public enum InputKind implements ConfigEnum {
  FLAT,
  IMAGE,
  SEQUENCE
}
