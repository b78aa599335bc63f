package io.spindle.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The wiring of a graph model: every layer's effective name and the names it reads, checked.
 *
 * <p>A layer without a {@code name} is called {@code <type>_<position>} (for example {@code
 * conv2d_3}); a layer without {@code inputs} reads the layer listed just before it, the first layer
 * reads {@link #INPUT}. A layer may read only layers listed before it, so the list is a topological
 * order and the graph has no cycles; every layer but the last (the output layer) must be read by a
 * later one. Along the edges the shape kind (flat, image, sequence) is followed as for a stack:
 * {@code add} needs inputs of one kind (equal shapes are checked when the network is built, where
 * sizes are known), {@code concat} image or flat inputs of one kind, {@code shortcut} an image. An
 * {@code activation} layer must be the only reader of its input, since DL4J's activation layer
 * overwrites its input when predicting.
 */
public final class GraphLayout {
  /** The name under which layers read the network's input. */
  public static final String INPUT = "input";

  /** One layer: its position in {@code model.layers}, effective name and inputs. */
  public record Node(int index, String name, List<String> inputs, LayerConfig layer) {}

  private final List<Node> nodes;

  private GraphLayout(List<Node> nodes) {
    this.nodes = List.copyOf(nodes);
  }

  /** Whether {@code layers} describe a graph rather than a stack. */
  public static boolean isGraph(List<LayerConfig> layers) {
    for (LayerConfig l : layers) {
      if (!l.inputs().isEmpty() || l.type().graphOnly()) {
        return true;
      }
    }
    return false;
  }

  /** The effective name of layer {@code i}. */
  public static String nameOf(List<LayerConfig> layers, int i) {
    LayerConfig l = layers.get(i);
    return l.name() != null ? l.name() : l.type().configName() + "_" + i;
  }

  /**
   * The checked wiring of {@code layers}, with the network's input of kind {@code input}; throws a
   * {@link ConfigException} whose message starts with {@code layers[i]} for the first bad layer.
   */
  public static GraphLayout of(List<LayerConfig> layers, InputKind input) {
    Map<String, Integer> position = new HashMap<>();
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < layers.size(); i++) {
      String name = nameOf(layers, i);
      Integer earlier = position.putIfAbsent(name, i);
      if (earlier != null) {
        throw new ConfigException(
            "layers["
                + i
                + "].name: '"
                + name
                + "' is already the name of layers["
                + earlier
                + "]");
      }
      LayerConfig l = layers.get(i);
      List<String> in =
          !l.inputs().isEmpty() ? l.inputs() : List.of(i == 0 ? INPUT : nameOf(layers, i - 1));
      nodes.add(new Node(i, name, in, l));
    }
    for (Node n : nodes) {
      for (String in : n.inputs()) {
        if (in.equals(INPUT)) {
          continue;
        }
        Integer at = position.get(in);
        if (at == null) {
          throw new ConfigException(
              "layers["
                  + n.index()
                  + "].inputs: '"
                  + in
                  + "' is not the name of a layer (nor '"
                  + INPUT
                  + "'); names: "
                  + position.keySet().stream().sorted().toList());
        }
        if (at >= n.index()) {
          throw new ConfigException(
              "layers["
                  + n.index()
                  + "].inputs: '"
                  + in
                  + "' is layers["
                  + at
                  + "], which is not listed before layers["
                  + n.index()
                  + "]; list every layer after the layers it reads");
        }
      }
    }
    boolean[] read = new boolean[nodes.size()];
    Map<String, List<Integer>> readers = new HashMap<>();
    for (Node n : nodes) {
      for (String in : n.inputs()) {
        readers.computeIfAbsent(in, k -> new ArrayList<>()).add(n.index());
        if (!in.equals(INPUT)) {
          read[position.get(in)] = true;
        }
      }
    }
    for (Node n : nodes) {
      List<Integer> others = readers.get(n.inputs().get(0));
      if (n.layer().type() == LayerType.ACTIVATION && others.size() > 1) {
        throw new ConfigException(
            "layers["
                + n.index()
                + "].inputs: an activation layer must be the only reader of '"
                + n.inputs().get(0)
                + "', which layers"
                + others
                + " all read (DL4J applies an activation layer in place when predicting); give"
                + " the activation to the layer that computes '"
                + n.inputs().get(0)
                + "' or to each reader");
      }
    }
    for (int i = 0; i < nodes.size() - 1; i++) {
      if (!read[i]) {
        throw new ConfigException(
            "layers["
                + i
                + "]: no later layer reads '"
                + nodes.get(i).name()
                + "'; every layer must lead to the output layer");
      }
    }
    checkKinds(nodes, position, input);
    return new GraphLayout(nodes);
  }

  public List<Node> nodes() {
    return nodes;
  }

  private static void checkKinds(List<Node> nodes, Map<String, Integer> position, InputKind input) {
    InputKind[] kinds = new InputKind[nodes.size()];
    for (Node n : nodes) {
      int i = n.index();
      LayerType type = n.layer().type();
      String at = "layers[" + i + "].type: a " + type.configName() + " layer ";
      List<InputKind> in = new ArrayList<>();
      for (String name : n.inputs()) {
        in.add(name.equals(INPUT) ? input : kinds[position.get(name)]);
      }
      InputKind shape = in.get(0);
      String found = "'" + n.inputs().get(0) + "' is " + shape.configName();
      switch (type) {
        case ADD, CONCAT -> {
          for (int k = 1; k < in.size(); k++) {
            if (in.get(k) != shape) {
              throw new ConfigException(
                  at
                      + "needs inputs of one kind, but "
                      + found
                      + " and '"
                      + n.inputs().get(k)
                      + "' is "
                      + in.get(k).configName());
            }
          }
          if (type == LayerType.CONCAT && shape == InputKind.SEQUENCE) {
            throw new ConfigException(at + "needs image or flat inputs, but " + found);
          }
        }
        case SHORTCUT, CONV2D, MAX_POOL, AVG_POOL -> need(at, found, shape, InputKind.IMAGE);
        case DENSE, OUTPUT -> {
          if (shape == InputKind.SEQUENCE) {
            throw new ConfigException(
                at
                    + "needs flat or image input, but "
                    + found
                    + "; add a global_avg_pool or global_max_pool layer first");
          }
          shape = InputKind.FLAT;
        }
        case BATCH_NORM -> {
          if (shape == InputKind.SEQUENCE) {
            throw new ConfigException(at + "needs flat or image input, but " + found);
          }
        }
        case DROPOUT, ACTIVATION -> {}
        case LSTM, SIMPLE_RNN, SELF_ATTENTION -> need(at, found, shape, InputKind.SEQUENCE);
        case EMBEDDING -> {
          if (!n.inputs().equals(List.of(INPUT))) {
            throw new ConfigException(at + "must read the network's input (it reads token ids)");
          }
          need(at, found, shape, InputKind.SEQUENCE);
        }
        case GLOBAL_AVG_POOL, GLOBAL_MAX_POOL -> {
          if (shape == InputKind.FLAT) {
            throw new ConfigException(at + "needs image or sequence input, but " + found);
          }
          shape = InputKind.FLAT;
        }
        case LAST_TIME_STEP ->
            throw new ConfigException(
                at + "is not available in graph models; use global_avg_pool or global_max_pool");
        default -> throw new IllegalStateException("unknown layer type " + type);
      }
      kinds[i] = shape;
    }
  }

  private static void need(String at, String found, InputKind shape, InputKind needed) {
    if (shape != needed) {
      throw new ConfigException(at + "needs " + needed.configName() + " input, but " + found);
    }
  }
}
