package io.spindle.config;

/**
 * A configuration that cannot be used. The message names the key (and, when the value came from a
 * YAML file, the file and line), the expected value and the value found.
 */
public class ConfigException extends IllegalArgumentException {
  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
