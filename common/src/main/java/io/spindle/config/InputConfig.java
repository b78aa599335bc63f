package io.spindle.config;

/**
 * The shape of one example's feature vector ({@code model.input}); see {@link InputKind} for the
 * layouts. When {@code model.input} is absent, {@link ModelConfig#inputFor} infers it from the
 * first layer and the number of features.
 *
 * @param type flat, image or sequence
 * @param height image rows (image only)
 * @param width image columns (image only)
 * @param channels image channels (image only)
 * @param steps sequence length (sequence only)
 * @param features values per step (sequence only; 1 for token ids read by an embedding layer)
 */
public record InputConfig(
    InputKind type, int height, int width, int channels, int steps, int features)
    implements java.io.Serializable {
  public InputConfig {
    Check.notNull("type", type);
    Check.nonNegative("height", height);
    Check.nonNegative("width", width);
    Check.nonNegative("channels", channels);
    Check.nonNegative("steps", steps);
    Check.nonNegative("features", features);
    switch (type) {
      case FLAT -> {
        onlyFor("height", height, type);
        onlyFor("width", width, type);
        onlyFor("channels", channels, type);
        onlyFor("steps", steps, type);
        onlyFor("features", features, type);
      }
      case IMAGE -> {
        Check.positive("height", height);
        Check.positive("width", width);
        Check.positive("channels", channels);
        onlyFor("steps", steps, type);
        onlyFor("features", features, type);
      }
      case SEQUENCE -> {
        Check.positive("steps", steps);
        Check.positive("features", features);
        onlyFor("height", height, type);
        onlyFor("width", width, type);
        onlyFor("channels", channels, type);
      }
      default -> throw new IllegalStateException("unknown input type " + type);
    }
  }

  private static void onlyFor(String key, int value, InputKind type) {
    if (value != 0) {
      throw new ConfigException(
          key + " does not apply to a " + type.configName() + " input, got " + value);
    }
  }

  public static InputConfig flat() {
    return new InputConfig(InputKind.FLAT, 0, 0, 0, 0, 0);
  }

  public static InputConfig image(int height, int width, int channels) {
    return new InputConfig(InputKind.IMAGE, height, width, channels, 0, 0);
  }

  public static InputConfig sequence(int steps, int features) {
    return new InputConfig(InputKind.SEQUENCE, 0, 0, 0, steps, features);
  }

  /** Values per example in this shape, or -1 for flat (any number). */
  public long size() {
    return switch (type) {
      case FLAT -> -1;
      case IMAGE -> (long) height * width * channels;
      case SEQUENCE -> (long) steps * features;
    };
  }

  /** For messages: {@code image 28x28x1}, {@code sequence 28x28}, {@code flat}. */
  public String describe() {
    return switch (type) {
      case FLAT -> "flat";
      case IMAGE -> "image " + height + "x" + width + "x" + channels + " (HxWxC)";
      case SEQUENCE -> "sequence of " + steps + " steps x " + features + " features";
    };
  }
}
