package io.spindle.model;

import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;

/**
 * Multiply-adds of a graph's forward pass per example, counted over its convolution and dense
 * layers (batch norm, pooling, activations and merges are a few operations per value and left out,
 * as usual): a convolution costs {@code C_in / groups x C_out x k_h x k_w x H_out x W_out}, a dense
 * or output layer {@code n_in x n_out}. A training step costs about 3 forward passes (forward,
 * input gradient, weight gradient), so training FLOPs per example are about {@code 6 x} this.
 */
public final class ModelFlops {
  private ModelFlops() {}

  /** Forward multiply-adds per example of {@code conf} (built for {@code input}). */
  public static long multiplyAdds(ComputationGraphConfiguration conf, InputType input) {
    Map<String, InputType> types = conf.getLayerActivationTypes(input);
    long macs = 0;
    for (Map.Entry<String, GraphVertex> e : conf.getVertices().entrySet()) {
      if (!(e.getValue() instanceof LayerVertex v)) {
        continue;
      }
      Layer layer = v.getLayerConf().getLayer();
      InputType out = types.get(e.getKey());
      if (layer instanceof ConvolutionLayer c
          && out instanceof InputType.InputTypeConvolutional o) {
        long[] k = {c.getKernelSize()[0], c.getKernelSize()[1]};
        macs += c.getNIn() * c.getNOut() * k[0] * k[1] * o.getHeight() * o.getWidth();
      } else if (layer instanceof FeedForwardLayer f
          && layer.getClass().getSimpleName().matches("DenseLayer|OutputLayer")) {
        macs += f.getNIn() * f.getNOut();
      }
    }
    return macs;
  }
}
