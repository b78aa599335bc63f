package io.spindle.config;

import java.util.List;

/**
 * The network: the shape of its input, its layers, initialisation and regularisation.
 *
 * @param layers hidden layers followed by exactly one output layer
 * @param weightInit initialisation of weights (biases start at zero)
 * @param l1 L1 penalty coefficient on weights (not biases, not batch-norm parameters)
 * @param l2 L2 penalty coefficient on weights (not biases, not batch-norm parameters): the loss
 *     gains (l2 / 2) * ||W||^2
 * @param precision float32, float64 or bf16 (float32 storage, bfloat16 products where the CPU runs
 *     them fast, see {@link Precision})
 * @param input how an example's feature vector is shaped for the first layer; absent: inferred by
 *     {@link #inputFor} from the first layer and the number of features
 * @param maxNorm max-norm constraint (0 = off): after every optimiser step, the weights into each
 *     unit (a column of a dense or recurrent weight matrix, one filter of a convolution) are scaled
 *     down to L2 norm {@code maxNorm} if they are longer
 * @param preset a named network ({@link ResNets}) that defines the layers; {@code layers} must then
 *     be absent (or equal to the preset's layers, as in a written config)
 *     <p>The layers form a plain stack, each reading the one before it, unless a layer names its
 *     {@code inputs} or is an {@code add}, {@code concat} or {@code shortcut} layer: then the model
 *     is a graph ({@link #isGraph()}, wiring in {@link GraphLayout}), built as a DL4J
 *     ComputationGraph.
 * @param kernels which code computes the forward and backward pass ({@link Kernels}); absent:
 *     {@code auto}
 */
public record ModelConfig(
    List<LayerConfig> layers,
    WeightInit weightInit,
    double l1,
    double l2,
    Precision precision,
    InputConfig input,
    double maxNorm,
    PresetConfig preset,
    Kernels kernels)
    implements java.io.Serializable {
  public ModelConfig {
    if (kernels == null) {
      kernels = Kernels.AUTO;
    }
    if (preset != null) {
      List<LayerConfig> expanded = ResNets.layers(preset);
      if (layers != null && !layers.isEmpty() && !layers.equals(expanded)) {
        throw new ConfigException(
            "layers must be absent when preset is set (preset "
                + preset.name()
                + " defines them), got a list of "
                + layers.size()
                + " layers");
      }
      layers = expanded;
    }
    Check.notNull("layers", layers);
    layers = List.copyOf(layers);
    if (layers.isEmpty()) {
      throw new ConfigException("layers must hold at least an output layer, got an empty list");
    }
    for (int i = 0; i < layers.size(); i++) {
      boolean last = i == layers.size() - 1;
      LayerType type = layers.get(i).type();
      if (last && type != LayerType.OUTPUT) {
        throw new ConfigException(
            "layers[" + i + "].type: the last layer must be output, got " + type.configName());
      }
      if (!last && type == LayerType.OUTPUT) {
        throw new ConfigException(
            "layers["
                + i
                + "].type: only the last layer may be output, got output at position "
                + i
                + " of "
                + layers.size());
      }
    }
    Check.notNull("weightInit", weightInit);
    Check.nonNegative("l1", l1);
    Check.nonNegative("l2", l2);
    Check.notNull("precision", precision);
    Check.nonNegative("maxNorm", maxNorm);
    InputKind inputKind = input == null ? inferredKind(layers) : input.type();
    if (GraphLayout.isGraph(layers)) {
      GraphLayout.of(layers, inputKind);
    } else {
      checkShapes(layers, inputKind);
    }
    if (input != null && input.type() == InputKind.SEQUENCE) {
      checkTokens(layers, input.features());
    }
  }

  /** This model in {@code precision} (bf16 falls back to float32 through this). */
  public ModelConfig withPrecision(Precision precision) {
    return new ModelConfig(layers, weightInit, l1, l2, precision, input, maxNorm, preset, kernels);
  }

  /** This model computed by {@code kernels}. */
  public ModelConfig withKernels(Kernels kernels) {
    return new ModelConfig(layers, weightInit, l1, l2, precision, input, maxNorm, preset, kernels);
  }

  /** The form of earlier versions: flat or inferred input, no max-norm. */
  public ModelConfig(
      List<LayerConfig> layers, WeightInit weightInit, double l1, double l2, Precision precision) {
    this(layers, weightInit, l1, l2, precision, null, 0.0, null, Kernels.AUTO);
  }

  /** A model without a preset, computed by {@code kernels: auto}. */
  public ModelConfig(
      List<LayerConfig> layers,
      WeightInit weightInit,
      double l1,
      double l2,
      Precision precision,
      InputConfig input,
      double maxNorm) {
    this(layers, weightInit, l1, l2, precision, input, maxNorm, null, Kernels.AUTO);
  }

  /** Whether the layers form a graph (DL4J ComputationGraph) rather than a stack. */
  public boolean isGraph() {
    return GraphLayout.isGraph(layers);
  }

  /** The checked wiring of a graph model. */
  public GraphLayout graph() {
    InputKind kind = input == null ? inferredKind(layers) : input.type();
    return GraphLayout.of(layers, kind);
  }

  public LayerConfig outputLayer() {
    return layers.get(layers.size() - 1);
  }

  /**
   * The input shape for {@code numFeatures} features per example: {@link #input} checked against
   * the count, or, when absent, inferred from the first shaping layer: convolution or pooling read
   * a square image of 1 or 3 channels (784 = 28x28x1, 3072 = 32x32x3; no count is both), lstm,
   * simple_rnn and self_attention a square sequence (784 = 28 steps x 28), embedding a sequence of
   * {@code numFeatures} token ids; otherwise flat.
   */
  public InputConfig inputFor(int numFeatures) {
    if (numFeatures <= 0) {
      throw new ConfigException("the data set has " + numFeatures + " features per example");
    }
    if (input != null) {
      if (input.type() != InputKind.FLAT && input.size() != numFeatures) {
        throw new ConfigException(
            "model.input: "
                + input.describe()
                + " holds "
                + input.size()
                + " values per example, but the data set has "
                + numFeatures
                + " features");
      }
      return input;
    }
    InputKind kind = inferredKind(layers);
    if (kind == InputKind.FLAT) {
      return InputConfig.flat();
    }
    LayerType first = firstShaping(layers);
    if (first == LayerType.EMBEDDING) {
      return InputConfig.sequence(numFeatures, 1);
    }
    int side = squareRoot(numFeatures);
    if (kind == InputKind.IMAGE) {
      if (side > 0) {
        return InputConfig.image(side, side, 1);
      }
      int colourSide = numFeatures % 3 == 0 ? squareRoot(numFeatures / 3) : -1;
      if (colourSide > 0) {
        return InputConfig.image(colourSide, colourSide, 3);
      }
      throw new ConfigException(
          "model.input: cannot infer an image shape from "
              + numFeatures
              + " features (not a square of 1 or 3 channels); set model.input, for example"
              + " {type: image, height: 28, width: 28, channels: 1}");
    }
    if (side > 0) {
      return InputConfig.sequence(side, side);
    }
    throw new ConfigException(
        "model.input: cannot infer a sequence shape from "
            + numFeatures
            + " features (not a square); set model.input, for example"
            + " {type: sequence, steps: 28, features: 28}");
  }

  private static int squareRoot(int n) {
    int s = (int) Math.round(Math.sqrt(n));
    return s * s == n ? s : -1;
  }

  /** The first layer that says what it reads, skipping dropout, batch_norm and activation. */
  private static LayerType firstShaping(List<LayerConfig> layers) {
    for (LayerConfig l : layers) {
      if (l.type() != LayerType.DROPOUT
          && l.type() != LayerType.BATCH_NORM
          && l.type() != LayerType.ACTIVATION) {
        return l.type();
      }
    }
    return LayerType.OUTPUT;
  }

  private static InputKind inferredKind(List<LayerConfig> layers) {
    return switch (firstShaping(layers)) {
      case CONV2D, MAX_POOL, AVG_POOL, SHORTCUT -> InputKind.IMAGE;
      case LSTM, SIMPLE_RNN, SELF_ATTENTION, EMBEDDING -> InputKind.SEQUENCE;
      default -> InputKind.FLAT;
    };
  }

  private static void checkTokens(List<LayerConfig> layers, int features) {
    for (int i = 0; i < layers.size(); i++) {
      if (layers.get(i).type() == LayerType.EMBEDDING && features != 1) {
        throw new ConfigException(
            "input.features: an embedding layer (layers["
                + i
                + "]) reads one token id per step, so the input must have features: 1, got "
                + features);
      }
    }
  }

  /** Follows the shape (flat, image, sequence) through the layers; rejects what cannot connect. */
  private static void checkShapes(List<LayerConfig> layers, InputKind input) {
    InputKind shape = input;
    for (int i = 0; i < layers.size(); i++) {
      LayerType type = layers.get(i).type();
      String at = "layers[" + i + "].type: a " + type.configName() + " layer ";
      String found = describe(shape, i == 0 ? "the input" : "layers[" + (i - 1) + "]");
      switch (type) {
        case DENSE, OUTPUT -> {
          if (shape == InputKind.SEQUENCE) {
            throw new ConfigException(
                at
                    + "needs flat or image input, but "
                    + found
                    + "; add a last_time_step, global_avg_pool or global_max_pool layer first");
          }
          shape = InputKind.FLAT;
        }
        case CONV2D, MAX_POOL, AVG_POOL -> require(at, found, shape, InputKind.IMAGE);
        case BATCH_NORM -> {
          if (shape == InputKind.SEQUENCE) {
            throw new ConfigException(at + "needs flat or image input, but " + found);
          }
        }
        case DROPOUT, ACTIVATION -> {}
        case LSTM, SIMPLE_RNN, SELF_ATTENTION -> require(at, found, shape, InputKind.SEQUENCE);
        case EMBEDDING -> {
          if (i != 0) {
            throw new ConfigException(at + "must be the first layer (it reads token ids)");
          }
          require(at, found, shape, InputKind.SEQUENCE);
        }
        case LAST_TIME_STEP -> {
          LayerType before = i == 0 ? null : layers.get(i - 1).type();
          if (before != LayerType.LSTM && before != LayerType.SIMPLE_RNN) {
            throw new ConfigException(
                at
                    + "must directly follow an lstm or simple_rnn layer, but follows "
                    + (before == null ? "the input" : before.configName()));
          }
          shape = InputKind.FLAT;
        }
        case GLOBAL_AVG_POOL, GLOBAL_MAX_POOL -> {
          if (shape == InputKind.FLAT) {
            throw new ConfigException(at + "needs image or sequence input, but " + found);
          }
          shape = InputKind.FLAT;
        }
        default -> throw new IllegalStateException("unknown layer type " + type);
      }
    }
  }

  private static void require(String at, String found, InputKind shape, InputKind needed) {
    if (shape != needed) {
      throw new ConfigException(
          at
              + "needs "
              + needed.configName()
              + " input, but "
              + found
              + (needed == InputKind.IMAGE
                  ? "; set model.input to {type: image, ...}"
                  : "; set model.input to {type: sequence, ...}"));
    }
  }

  private static String describe(InputKind shape, String what) {
    return what + " is " + shape.configName();
  }
}
