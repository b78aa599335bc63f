package io.spindle.config;

import java.util.HashSet;
import java.util.List;
import java.util.regex.Pattern;

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
 * @param name the layer's name, which other layers list in their {@code inputs} (optional; a
 *     letter, then letters, digits, '_' or '-'; {@code input} names the network's input)
 * @param inputs the names of the layers this one reads (graph models); empty: the layer before it
 *     (the network's input for the first layer). {@code add} and {@code concat} need two or more,
 *     every other layer at most one
 * @param bias whether a conv2d or dense layer has a bias (absent = true); ResNets leave it out of
 *     convolutions followed by batch normalisation
 * @param zeroGamma batch_norm only: start the scale (gamma) at 0 instead of 1, so the layer's
 *     output starts at its shift; on the last batch norm of a residual branch the block then starts
 *     as the identity (Goyal et al. 2017)
 * @param labelSmoothing output layer with cross_entropy and softmax only: the loss is taken against
 *     {@code (1 - e) * onehot + e / classes} instead of the one-hot label (0 = off)
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
    int vocabulary,
    String name,
    List<String> inputs,
    Boolean bias,
    boolean zeroGamma,
    double labelSmoothing)
    implements java.io.Serializable {
  /** What a layer name looks like. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_-]*");

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
    if (type == LayerType.CONV2D || type == LayerType.SHORTCUT) {
      Check.positive("filters", filters);
    } else {
      absent("filters", filters, of);
    }
    if (type == LayerType.SHORTCUT) {
      absent("kernel", kernel, of);
      absent("padding", padding, of);
      Check.nonNegative("stride", stride);
      if (stride == 0) {
        stride = 1;
      }
    } else if (type.isWindowed()) {
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
    if (name != null && (!NAME.matcher(name).matches() || name.equals(GraphLayout.INPUT))) {
      throw new ConfigException(
          "name must start with a letter and hold only letters, digits, '_' and '-', and must not"
              + " be '"
              + GraphLayout.INPUT
              + "' (the network's input), got '"
              + name
              + "'");
    }
    inputs = inputs == null ? List.of() : List.copyOf(inputs);
    if (new HashSet<>(inputs).size() != inputs.size()) {
      throw new ConfigException("inputs must not name a layer twice, got " + inputs);
    }
    if (type.isMerge() && inputs.size() < 2) {
      throw new ConfigException(
          "inputs of"
              + of
              + " must name at least 2 layers (or input), got "
              + (inputs.isEmpty() ? "none" : inputs));
    }
    if (!type.isMerge() && inputs.size() > 1) {
      throw new ConfigException(
          "inputs of"
              + of
              + " name at most one layer, got "
              + inputs
              + "; merge several with an add or concat layer first");
    }
    if (bias != null && type != LayerType.CONV2D && type != LayerType.DENSE) {
      throw new ConfigException("bias does not apply to" + of + ", got " + bias);
    }
    if (zeroGamma && type != LayerType.BATCH_NORM) {
      throw new ConfigException("zeroGamma does not apply to" + of + ", got true");
    }
    if (labelSmoothing != 0) {
      if (type != LayerType.OUTPUT
          || loss != Loss.CROSS_ENTROPY
          || activation != Activation.SOFTMAX) {
        throw new ConfigException(
            "labelSmoothing applies to an output layer with activation softmax and loss"
                + " cross_entropy only, got "
                + labelSmoothing
                + " on"
                + of
                + (type == LayerType.OUTPUT
                    ? " with " + activation.configName() + " and " + loss.configName()
                    : ""));
      }
      Check.inRange("labelSmoothing", labelSmoothing, 0.0, 1.0);
    }
  }

  /** A layer of a plain stack: no name, inputs, bias switch, zeroGamma or label smoothing. */
  public LayerConfig(
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
      int vocabulary) {
    this(
        type,
        units,
        activation,
        dropout,
        loss,
        filters,
        kernel,
        stride,
        padding,
        heads,
        vocabulary,
        null,
        List.of(),
        null,
        false,
        0.0);
  }

  /** This layer with a name and the layers it reads (graph models). */
  public LayerConfig named(String newName, String... newInputs) {
    return new LayerConfig(
        type,
        units,
        activation,
        dropout,
        loss,
        filters,
        kernel,
        stride,
        padding,
        heads,
        vocabulary,
        newName,
        List.of(newInputs),
        bias,
        zeroGamma,
        labelSmoothing);
  }

  /** This conv2d or dense layer without a bias. */
  public LayerConfig withoutBias() {
    return new LayerConfig(
        type,
        units,
        activation,
        dropout,
        loss,
        filters,
        kernel,
        stride,
        padding,
        heads,
        vocabulary,
        name,
        inputs,
        false,
        zeroGamma,
        labelSmoothing);
  }

  /** This batch_norm layer with its scale starting at 0. */
  public LayerConfig withZeroGamma() {
    return new LayerConfig(
        type,
        units,
        activation,
        dropout,
        loss,
        filters,
        kernel,
        stride,
        padding,
        heads,
        vocabulary,
        name,
        inputs,
        bias,
        true,
        labelSmoothing);
  }

  /** This output layer with label smoothing {@code e}. */
  public LayerConfig withLabelSmoothing(double e) {
    return new LayerConfig(
        type,
        units,
        activation,
        dropout,
        loss,
        filters,
        kernel,
        stride,
        padding,
        heads,
        vocabulary,
        name,
        inputs,
        bias,
        zeroGamma,
        e);
  }

  /** Whether the layer has a bias: {@code bias}, absent meaning yes. */
  public boolean hasBias() {
    return bias == null || bias;
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

  /** An activation layer. */
  public static LayerConfig activation(Activation activation) {
    return new LayerConfig(LayerType.ACTIVATION, 0, activation, 0.0, null, 0, 0, 0, 0, 0, 0);
  }

  /** An add or concat layer reading {@code inputs}. */
  public static LayerConfig merge(LayerType type, String name, String... inputs) {
    return new LayerConfig(
        type, 0, null, 0.0, null, 0, 0, 0, 0, 0, 0, name, List.of(inputs), null, false, 0.0);
  }

  /**
   * An option-A shortcut: every {@code stride}-th pixel, channels zero-padded to {@code filters}.
   */
  public static LayerConfig shortcut(int filters, int stride) {
    return new LayerConfig(LayerType.SHORTCUT, 0, null, 0.0, null, filters, 0, stride, 0, 0, 0);
  }
}
