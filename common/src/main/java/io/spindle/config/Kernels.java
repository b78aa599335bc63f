package io.spindle.config;

/**
 * Which code computes a replica's forward and backward pass ({@code model.kernels}).
 *
 * <ul>
 *   <li>{@code auto} (default): Spindle's fast kernels ({@code io.spindle.model.fast}) where they
 *       cover every layer of a network without convolutions on the CPU backend, DL4J's own layers
 *       otherwise (the fast convolution path drifts from DL4J's by more than float rounding over a
 *       run, cause not yet found, so it runs only on request);
 *   <li>{@code fast}: the fast kernels, and a configuration error naming the first layer they do
 *       not cover;
 *   <li>{@code dl4j}: always DL4J's layers (the reference path the fast kernels are tested
 *       against).
 * </ul>
 *
 * For dense networks both paths compute the same gradient up to float rounding, draw the same
 * dropout masks and keep the parameters in DL4J's flat layout, so a run may switch between them at
 * a checkpoint.
 */
public enum Kernels implements ConfigEnum {
  AUTO,
  FAST,
  DL4J
}
