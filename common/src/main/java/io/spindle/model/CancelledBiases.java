package io.spindle.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The index ranges of the flat parameter vector holding biases that a batch normalisation cancels:
 * the bias {@code b} of a layer with the identity activation whose output goes only into batch
 * normalisation layers (a convolution or dense layer followed by batch norm, as in every residual
 * block). In training, batch norm subtracts the batch mean of each channel (or feature), which
 * contains the bias, so the loss does not depend on it and its gradient is exactly zero.
 *
 * <p>DL4J computes that gradient as a sum of terms that cancel, so what it returns is float
 * rounding noise (about 1e-9). An optimiser that normalises its step (Adam, RMSProp, AdaGrad) turns
 * such noise into steps of the size of the learning rate in a random direction, and the batch
 * norm's running mean follows the bias. The result is a trajectory that depends on the order of
 * float additions: two runs that differ by one rounding (the collective engine's fused update
 * against the driver's ND4J update, the fast kernels against DL4J's) end 1e-3 apart after 30 steps,
 * all of it in these biases and the running means. {@link io.spindle.optim.GlobalStep} therefore
 * sets their gradient to its exact value, zero, so they stay where they start.
 */
public final class CancelledBiases extends FlatRanges {
  private static final long serialVersionUID = 1L;
  private static final CancelledBiases NONE = new CancelledBiases(new int[0]);

  private CancelledBiases(int[] ranges) {
    super(ranges);
  }

  public static CancelledBiases none() {
    return NONE;
  }

  /** The cancelled biases of a stack: layer i feeds layer i + 1 only. */
  public static CancelledBiases of(MultiLayerNetwork net) {
    Layer[] layers = net.getLayers();
    boolean[] cancelled = new boolean[layers.length];
    for (int i = 0; i + 1 < layers.length; i++) {
      cancelled[i] = biasFeedsBatchNorm(layers[i], List.of(layers[i + 1]));
    }
    return of(layers, cancelled, net.numParams());
  }

  /**
   * The cancelled biases of a graph, {@code layers} in the order of the flat vector ({@link
   * ParameterRules#of(ComputationGraph, io.spindle.config.ModelConfig)}): a layer's consumers are
   * the vertices that name it as an input; a network output has none that cancel.
   */
  public static CancelledBiases of(ComputationGraph net, Layer[] layers) {
    Map<String, List<String>> inputs = net.getConfiguration().getVertexInputs();
    List<String> outputs = net.getConfiguration().getNetworkOutputs();
    boolean[] cancelled = new boolean[layers.length];
    for (int i = 0; i < layers.length; i++) {
      String name = layers[i].conf().getLayer().getLayerName();
      if (outputs.contains(name)) {
        continue;
      }
      List<Layer> consumers = new ArrayList<>();
      boolean allLayers = true;
      for (Map.Entry<String, List<String>> e : inputs.entrySet()) {
        if (e.getValue().contains(name)) {
          Layer consumer = layerNamed(net, e.getKey());
          if (consumer == null || e.getValue().size() != 1) {
            allLayers = false; // a merge or another vertex: the bias is not cancelled there
          } else {
            consumers.add(consumer);
          }
        }
      }
      cancelled[i] = allLayers && biasFeedsBatchNorm(layers[i], consumers);
    }
    return of(layers, cancelled, net.numParams());
  }

  private static Layer layerNamed(ComputationGraph net, String name) {
    for (Layer l : net.getLayers()) {
      if (name.equals(l.conf().getLayer().getLayerName())) {
        return l;
      }
    }
    return null;
  }

  /**
   * Whether {@code layer} has a bias, the identity activation, and every one of {@code consumers}
   * (at least one) is a batch normalisation without input dropout.
   */
  static boolean biasFeedsBatchNorm(Layer layer, List<Layer> consumers) {
    if (consumers.isEmpty()
        || !layer.paramTable().containsKey("b")
        || !(layer.conf().getLayer() instanceof BaseLayer base)
        || !(base.getActivationFn() instanceof ActivationIdentity)) {
      return false;
    }
    for (Layer c : consumers) {
      if (!(c.conf().getLayer() instanceof BatchNormalization bn) || bn.getIDropout() != null) {
        return false;
      }
    }
    return true;
  }

  private static CancelledBiases of(Layer[] layers, boolean[] cancelled, long numParams) {
    List<Integer> out = new ArrayList<>();
    long offset = 0;
    for (int i = 0; i < layers.length; i++) {
      for (Map.Entry<String, INDArray> e : layers[i].paramTable().entrySet()) {
        long n = e.getValue().length();
        if (cancelled[i] && e.getKey().equals("b")) {
          out.add((int) offset);
          out.add((int) (offset + n));
        }
        offset += n;
      }
    }
    if (offset != numParams) {
      throw new IllegalStateException(
          "parameter tables cover " + offset + " values, expected " + numParams);
    }
    return out.isEmpty() ? NONE : new CancelledBiases(pairs(out));
  }

  /** The ranges within {@code [from, to)}, relative to {@code from} (for a shard of the vector). */
  public CancelledBiases slice(int from, int to) {
    int[] sliced = sliced(from, to);
    return sliced.length == 0 ? NONE : new CancelledBiases(sliced);
  }

  /** Sets the entries of {@code gradient} (a vector over the ranges' frame) to zero. */
  public void zero(INDArray gradient) {
    if (isEmpty()) {
      return;
    }
    INDArray flat = gradient.reshape(gradient.length());
    for (int r = 0; r < count(); r++) {
      flat.get(NDArrayIndex.interval(from(r), to(r))).assign(0);
    }
  }

  /** Sets {@code gradient[offset + i]} to zero for every i in the ranges. */
  public void zero(float[] gradient, int offset) {
    for (int r = 0; r < count(); r++) {
      java.util.Arrays.fill(gradient, offset + from(r), offset + to(r), 0f);
    }
  }
}
