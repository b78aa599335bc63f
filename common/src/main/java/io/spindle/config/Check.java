package io.spindle.config;

/** Validation used in the compact constructors of the config records. */
final class Check {
  private Check() {}

  static void positive(String key, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new ConfigException(key + " must be > 0, got " + value);
    }
  }

  static void positive(String key, long value) {
    if (value <= 0) {
      throw new ConfigException(key + " must be > 0, got " + value);
    }
  }

  static void nonNegative(String key, double value) {
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw new ConfigException(key + " must be >= 0, got " + value);
    }
  }

  static void nonNegative(String key, long value) {
    if (value < 0) {
      throw new ConfigException(key + " must be >= 0, got " + value);
    }
  }

  static void inRange(String key, double value, double lowInclusive, double highExclusive) {
    if (!(value >= lowInclusive && value < highExclusive)) {
      throw new ConfigException(
          key + " must be in [" + lowInclusive + ", " + highExclusive + "), got " + value);
    }
  }

  static <T> T notNull(String key, T value) {
    if (value == null) {
      throw new ConfigException(key + " is required but was missing");
    }
    return value;
  }
}
