package io.spindle.model;

import io.spindle.config.ModelConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What the global step must know about each entry of a network's flat parameter vector, beyond the
 * optimiser: which entries are penalised weights ({@link Regularization}), which are batch-norm
 * statistics updated raw ({@link RawUpdateRanges}), which unit each weight belongs to for the
 * max-norm constraint ({@link MaxNorm}), the kind of every entry (weight, bias, batch-norm scale or
 * shift, statistics; {@link ParameterKinds}) for the optimiser's weight decay, and which are biases
 * that a batch norm cancels and whose gradient is therefore exactly zero ({@link CancelledBiases}).
 * Derived once from the network's layers and the model config; the network's type (multi-layer
 * network, graph) only decides the order of the layers.
 *
 * @param numParams length of the flat parameter vector
 * @param type float32 or float64
 */
public record ParameterRules(
    long numParams,
    DataType type,
    Regularization regularization,
    RawUpdateRanges rawUpdates,
    MaxNorm maxNorm,
    ParameterKinds kinds,
    CancelledBiases cancelledBiases) {

  /** The rules of {@code net}, built from {@code model}. */
  public static ParameterRules of(MultiLayerNetwork net, ModelConfig model) {
    return of(net.getLayers(), net.numParams(), net.params().dataType(), model)
        .withCancelledBiases(CancelledBiases.of(net));
  }

  /**
   * The rules of graph {@code net}, built from {@code model}. DL4J lays a graph's parameters out in
   * its topological order; the layers are taken in the order of their views in the flat vector, and
   * a layout with gaps or overlaps is refused.
   */
  public static ParameterRules of(ComputationGraph net, ModelConfig model) {
    Layer[] layers = layersInFlatOrder(net);
    return of(layers, net.numParams(), net.params().dataType(), model)
        .withCancelledBiases(CancelledBiases.of(net, layers));
  }

  /**
   * A graph's layers that hold parameters, in the order of their views in the flat vector (DL4J's
   * topological order, which need not be the order of {@code getLayers()}); a layout with gaps or
   * overlaps is refused.
   */
  public static Layer[] layersInFlatOrder(ComputationGraph net) {
    long base = net.params().offset();
    List<Layer> layers = new ArrayList<>();
    Map<Layer, Long> start = new HashMap<>();
    for (Layer layer : net.getLayers()) {
      long first = Long.MAX_VALUE;
      for (INDArray view : layer.paramTable().values()) {
        first = Math.min(first, view.offset() - base);
      }
      if (first != Long.MAX_VALUE) {
        layers.add(layer);
        start.put(layer, first);
      }
    }
    layers.sort(Comparator.comparing(start::get));
    long offset = 0;
    for (Layer layer : layers) {
      for (INDArray view : layer.paramTable().values()) {
        if (view.offset() - base != offset) {
          throw new IllegalStateException(
              "graph layer "
                  + layer.conf().getLayer().getLayerName()
                  + ": expected a parameter view at offset "
                  + offset
                  + " of the flat vector, found "
                  + (view.offset() - base));
        }
        offset += view.length();
      }
    }
    if (offset != net.numParams()) {
      throw new IllegalStateException(
          "graph parameter views cover " + offset + " values, expected " + net.numParams());
    }
    return layers.toArray(new Layer[0]);
  }

  /** The rules of the parameter tables of {@code layers}, laid out in order. */
  public static ParameterRules of(
      Layer[] layers, long numParams, DataType type, ModelConfig model) {
    return new ParameterRules(
        numParams,
        type,
        Regularization.of(layers, numParams, type, model.l1(), model.l2()),
        RawUpdateRanges.of(layers, numParams),
        MaxNorm.of(layers, numParams, model.maxNorm()),
        ParameterKinds.of(layers, numParams),
        CancelledBiases.none());
  }

  /** These rules with {@code biases} as the cancelled biases. */
  public ParameterRules withCancelledBiases(CancelledBiases biases) {
    return new ParameterRules(numParams, type, regularization, rawUpdates, maxNorm, kinds, biases);
  }
}
