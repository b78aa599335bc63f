package io.spindle.model;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.samediff.SameDiffLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * DL4J's SameDiff-backed layer (used for {@code self_attention}) with its backward pass corrected.
 *
 * <p>In DL4J 1.0.0-M2.1, {@code SameDiffLayer.backpropGradient} returns exactly twice the true
 * gradients, for its parameters and for its input alike, while its forward pass is right: central
 * finite differences on the network's loss give half of what it reports, for every parameter (found
 * by {@code LayerGradientCheckTest}). The backward pass is linear in the incoming error, so passing
 * half the error gives the true gradients. The check in {@code LayerGradientCheckTest} fails if a
 * later DL4J fixes the doubling, so this cannot silently become wrong.
 */
public final class HalvedErrorSameDiffLayer extends SameDiffLayer {
  private static final long serialVersionUID = 1L;

  public HalvedErrorSameDiffLayer(NeuralNetConfiguration conf, DataType dataType) {
    super(conf, dataType);
  }

  /** Replaces every stock SameDiff layer of an initialised network, sharing its views. */
  public static void install(MultiLayerNetwork net) {
    LayerSwap.replace(
        net,
        layer ->
            layer.getClass() == SameDiffLayer.class
                ? new HalvedErrorSameDiffLayer(layer.conf(), layer.params().dataType())
                : null);
  }

  /** The same for a graph. */
  public static void install(ComputationGraph net) {
    LayerSwap.replace(
        net,
        layer ->
            layer.getClass() == SameDiffLayer.class
                ? new HalvedErrorSameDiffLayer(layer.conf(), layer.params().dataType())
                : null);
  }

  @Override
  public Pair<Gradient, INDArray> backpropGradient(
      INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
    return super.backpropGradient(epsilon.mul(0.5), workspaceMgr);
  }
}
