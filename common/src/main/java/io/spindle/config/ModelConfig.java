package io.spindle.config;

import java.util.List;

/**
 * The network: its layers (the input size comes from the data set), initialisation and
 * regularisation.
 *
 * @param layers hidden layers followed by exactly one output layer
 * @param weightInit initialisation of weights (biases start at zero)
 * @param l1 L1 penalty coefficient on weights (not biases)
 * @param l2 L2 penalty coefficient on weights (not biases): the loss gains (l2 / 2) * ||W||^2
 * @param precision float32 or float64
 */
public record ModelConfig(
    List<LayerConfig> layers, WeightInit weightInit, double l1, double l2, Precision precision)
    implements java.io.Serializable {
  public ModelConfig {
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
  }

  public LayerConfig outputLayer() {
    return layers.get(layers.size() - 1);
  }
}
