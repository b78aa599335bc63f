package io.spindle.model;

import io.spindle.config.ModelConfig;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * What the global step must know about each entry of a network's flat parameter vector, beyond the
 * optimiser: which entries are penalised weights ({@link Regularization}), which are batch-norm
 * statistics updated raw ({@link RawUpdateRanges}), and which unit each weight belongs to for the
 * max-norm constraint ({@link MaxNorm}). Derived once from the network's layers and the model
 * config; the network's type (multi-layer network, graph) only decides the order of the layers.
 *
 * @param numParams length of the flat parameter vector
 * @param type float32 or float64
 */
public record ParameterRules(
    long numParams,
    DataType type,
    Regularization regularization,
    RawUpdateRanges rawUpdates,
    MaxNorm maxNorm) {

  /** The rules of {@code net}, built from {@code model}. */
  public static ParameterRules of(MultiLayerNetwork net, ModelConfig model) {
    return of(net.getLayers(), net.numParams(), net.params().dataType(), model);
  }

  /** The rules of the parameter tables of {@code layers}, laid out in order. */
  public static ParameterRules of(
      Layer[] layers, long numParams, DataType type, ModelConfig model) {
    return new ParameterRules(
        numParams,
        type,
        Regularization.of(layers, numParams, type, model.l1(), model.l2()),
        RawUpdateRanges.of(layers, numParams),
        MaxNorm.of(layers, numParams, model.maxNorm()));
  }
}
