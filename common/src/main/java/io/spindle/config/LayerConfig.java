package io.spindle.config;

/**
 * One layer of a model. Which fields apply depends on {@link #type}; a field that does not apply
 * must be absent (0 or null), so a typo like {@code kernel} on a dense layer is an error rather
 * than silently ignored.
 *
 * @param type the kind of layer, see {@link LayerType}
 * @param units outputs of a dense, output, lstm, simple_rnn, embedding or self_attention layer
 * @param activation activation function of a dense, output, conv2d, lstm or simple_rnn layer
 * @param dropout probability of dropping each input of this layer while training (0 = off); the
 *     rate of a {@code dropout} layer
 * @param loss the loss of an output layer; must be absent for other layers
 * @param filters output channels of a conv2d layer
 * @param kernel side of the square window of a conv2d or pooling layer
 * @param stride step of the window (default 1 for conv2d, the kernel size for pooling)
 * @param padding zeros added on each side of the image (default 0)
 * @param heads attention heads of a self_attention layer ({@code units} must be a multiple)
 * @param vocabulary number of distinct token ids (0 ... vocabulary-1) an embedding layer reads
 */
public record LayerConfig(
    LayerType type,
    int units,
    Activation activation,
    double dropout,
    Loss loss,
    int filters,
    int kernel,
    int stride,
    int padding,
    int heads,
    int vocabulary)
    implements java.io.Serializable {
  public LayerConfig {
    Check.notNull("type", type);
    String of = " a " + type.configName() + " layer";
    if (type.hasUnits()) {
      Check.positive("units", units);
    } else {
      absent("units", units, of);
    }
    if (type.hasActivation()) {
      if (activation == null) {
        throw new ConfigException("activation is required for" + of + " but was missing");
      }
    } else if (activation != null) {
      throw new ConfigException(
          "activation does not apply to" + of + ", got " + activation.configName());
    }
    if (type == LayerType.DROPOUT) {
      if (!(dropout > 0 && dropout < 1)) {
        throw new ConfigException("dropout must be in (0, 1) for a dropout layer, got " + dropout);
      }
    } else if (type.allowsDropout()) {
      Check.inRange("dropout", dropout, 0.0, 1.0);
    } else if (dropout != 0) {
      throw new ConfigException(
          "dropout does not apply to" + of + ", got " + dropout + "; add a dropout layer instead");
    }
    if (type == LayerType.OUTPUT && loss == null) {
      throw new ConfigException(
          "loss is required for an output layer (cross_entropy, binary_cross_entropy or mse)");
    }
    if (type != LayerType.OUTPUT && loss != null) {
      throw new ConfigException(
          "loss is only allowed on an output layer, got loss "
              + loss.configName()
              + " on a "
              + type.configName()
              + " layer");
    }
    if (type == LayerType.CONV2D) {
      Check.positive("filters", filters);
    } else {
      absent("filters", filters, of);
    }
    if (type.isWindowed()) {
      Check.positive("kernel", kernel);
      Check.nonNegative("stride", stride);
      Check.nonNegative("padding", padding);
      if (stride == 0) {
        stride = type == LayerType.CONV2D ? 1 : kernel;
      }
    } else {
      absent("kernel", kernel, of);
      absent("stride", stride, of);
      absent("padding", padding, of);
    }
    if (type == LayerType.SELF_ATTENTION) {
      Check.positive("heads", heads);
      if (units % heads != 0) {
        throw new ConfigException(
            "heads must divide units of a self_attention layer, got "
                + heads
                + " heads for "
                + units
                + " units");
      }
    } else {
      absent("heads", heads, of);
    }
    if (type == LayerType.EMBEDDING) {
      Check.positive("vocabulary", vocabulary);
    } else {
      absent("vocabulary", vocabulary, of);
    }
  }

  /** The dense/output form of earlier versions (no convolution or sequence fields). */
  public LayerConfig(LayerType type, int units, Activation activation, double dropout, Loss loss) {
    this(type, units, activation, dropout, loss, 0, 0, 0, 0, 0, 0);
  }

  private static void absent(String key, long value, String of) {
    if (value != 0) {
      throw new ConfigException(key + " does not apply to" + of + ", got " + value);
    }
  }

  public static LayerConfig dense(int units, Activation activation) {
    return new LayerConfig(LayerType.DENSE, units, activation, 0.0, null);
  }

  public static LayerConfig output(int units, Activation activation, Loss loss) {
    return new LayerConfig(LayerType.OUTPUT, units, activation, 0.0, loss);
  }

  public static LayerConfig conv2d(
      int filters, int kernel, int stride, int padding, Activation activation) {
    return new LayerConfig(
        LayerType.CONV2D, 0, activation, 0.0, null, filters, kernel, stride, padding, 0, 0);
  }

  /** A max_pool or avg_pool layer. */
  public static LayerConfig pool(LayerType type, int kernel, int stride, int padding) {
    return new LayerConfig(type, 0, null, 0.0, null, 0, kernel, stride, padding, 0, 0);
  }

  /** A layer without settings: batch_norm, last_time_step, global_avg_pool, global_max_pool. */
  public static LayerConfig of(LayerType type) {
    return new LayerConfig(type, 0, null, 0.0, null, 0, 0, 0, 0, 0, 0);
  }

  public static LayerConfig dropoutLayer(double rate) {
    return new LayerConfig(LayerType.DROPOUT, 0, null, rate, null, 0, 0, 0, 0, 0, 0);
  }

  /** An lstm or simple_rnn layer. */
  public static LayerConfig recurrent(LayerType type, int units, Activation activation) {
    return new LayerConfig(type, units, activation, 0.0, null, 0, 0, 0, 0, 0, 0);
  }

  public static LayerConfig embedding(int vocabulary, int units) {
    return new LayerConfig(LayerType.EMBEDDING, units, null, 0.0, null, 0, 0, 0, 0, 0, vocabulary);
  }

  public static LayerConfig selfAttention(int units, int heads) {
    return new LayerConfig(LayerType.SELF_ATTENTION, units, null, 0.0, null, 0, 0, 0, 0, heads, 0);
  }
}
