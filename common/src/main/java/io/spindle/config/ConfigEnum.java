package io.spindle.config;

/**
 * An enum whose constants are written in YAML in lower case with underscores, for example {@code
 * cross_entropy}. The binder uses {@link #configName()} both to parse and to write.
 */
public interface ConfigEnum {
  String name();

  default String configName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
