package io.spindle.config;

/**
 * Which code computes a replica's forward and backward pass ({@code model.kernels}).
 *
 * <ul>
 *   <li>{@code auto} (default): Spindle's fast kernels ({@code io.spindle.model.fast}) where they
 *       cover every layer of a network on the CPU backend with oneDNN, DL4J's own layers otherwise
 *       (convolutional networks included: against DL4J in float64 the fast convolution path's
 *       trajectory is closer than DL4J's own float32 layers, {@code FastReplicaTest});
 *   <li>{@code fast}: the fast kernels, and a configuration error naming the first layer they do
 *       not cover;
 *   <li>{@code dl4j}: always DL4J's layers (the reference path the fast kernels are tested
 *       against).
 * </ul>
 *
 * Both paths compute the same gradient up to float rounding, draw the same dropout masks and keep
 * the parameters in DL4J's flat layout, so a run may switch between them at a checkpoint.
 */
public enum Kernels implements ConfigEnum {
  AUTO,
  FAST,
  DL4J
}
