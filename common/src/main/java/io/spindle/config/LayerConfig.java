package io.spindle.config;

/**
 * One layer of a feed-forward model.
 *
 * @param type dense or output
 * @param units number of outputs of the layer
 * @param activation activation function
 * @param dropout probability of dropping each input of this layer while training (0 = off)
 * @param loss the loss of an output layer; must be absent for other layers
 */
public record LayerConfig(
    LayerType type, int units, Activation activation, double dropout, Loss loss)
    implements java.io.Serializable {
  public LayerConfig {
    Check.notNull("type", type);
    Check.positive("units", units);
    Check.notNull("activation", activation);
    Check.inRange("dropout", dropout, 0.0, 1.0);
    if (type == LayerType.OUTPUT && loss == null) {
      throw new ConfigException("loss is required for an output layer (cross_entropy or mse)");
    }
    if (type != LayerType.OUTPUT && loss != null) {
      throw new ConfigException(
          "loss is only allowed on an output layer, got loss "
              + loss.configName()
              + " on a "
              + type.configName()
              + " layer");
    }
  }

  public static LayerConfig dense(int units, Activation activation) {
    return new LayerConfig(LayerType.DENSE, units, activation, 0.0, null);
  }

  public static LayerConfig output(int units, Activation activation, Loss loss) {
    return new LayerConfig(LayerType.OUTPUT, units, activation, 0.0, loss);
  }
}
