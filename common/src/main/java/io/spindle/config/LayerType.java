package io.spindle.config;

/** Kinds of layer. The last layer of a model must be an {@code output} layer. */
public enum LayerType implements ConfigEnum {
  DENSE,
  OUTPUT
}
