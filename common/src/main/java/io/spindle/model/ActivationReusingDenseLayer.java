package io.spindle.model;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's dense layer, minus one matrix product per training step.
 *
 * <p>DL4J's {@code BaseLayer.backpropGradient} recomputes the layer's pre-activation {@code z = x W
 * + b} before applying the activation's derivative, so every dense layer costs four matrix products
 * per step instead of three (about a quarter of an MLP's compute). For activations whose derivative
 * is a function of the activation's output alone, the output of the forward pass serves instead:
 * ReLU's derivative is {@code 1[z > 0] = 1[relu(z) > 0]}, identity's is 1. Dropout applied to the
 * output by the next layer does not change this: a dropped unit's output becomes 0, but its
 * incoming gradient is 0 too, and a kept unit stays positive.
 *
 * <p>The first layer also skips the gradient with respect to the network's input (another matrix
 * product as large as its forward one), which training never uses; DL4J accepts a null input
 * gradient from a first layer, as from its embedding layers. So a network built this way cannot
 * report input gradients (nothing in Spindle asks for them).
 *
 * <p>Only the backward pass changes; parameters, configuration (and so saved models) and parameter
 * gradients are DL4J's own, bit for bit (tested against the stock layer). Other activations keep
 * DL4J's path.
 */
public final class ActivationReusingDenseLayer extends DenseLayer {
  private static final long serialVersionUID = 1L;
  private transient INDArray lastOutput;
  private final boolean mayDropInputGradient;

  public ActivationReusingDenseLayer(NeuralNetConfiguration conf, DataType dataType) {
    this(conf, dataType, true);
  }

  /**
   * @param mayDropInputGradient whether the layer may skip its input gradient when it is the
   *     network's first layer (in a stack); a graph's layers always compute it
   */
  ActivationReusingDenseLayer(
      NeuralNetConfiguration conf, DataType dataType, boolean mayDropInputGradient) {
    super(conf, dataType);
    this.mayDropInputGradient = mayDropInputGradient;
  }

  /** Whether {@code a}'s derivative can be computed from its output (exactly). */
  public static boolean supports(IActivation a) {
    if (a instanceof ActivationIdentity) {
      return true;
    }
    // plain ReLU only: a threshold or a cap would make the output ambiguous
    return a instanceof ActivationReLU r && r.toString().equals(new ActivationReLU().toString());
  }

  /**
   * Replaces, in an initialised network, every stock dense layer whose activation qualifies by an
   * activation-reusing one sharing the same parameter and gradient views.
   */
  public static void install(MultiLayerNetwork net) {
    LayerSwap.replace(
        net,
        layer ->
            layer.getClass() == DenseLayer.class
                    && supports(((DenseLayer) layer).layerConf().getActivationFn())
                    && !((DenseLayer) layer).hasLayerNorm()
                ? new ActivationReusingDenseLayer(layer.conf(), layer.params().dataType())
                : null);
  }

  /**
   * The same for a graph; there every layer computes its input gradient, since a graph's first
   * layer in DL4J's order may still pass its gradient through a preprocessor.
   */
  public static void install(ComputationGraph net) {
    LayerSwap.replace(
        net,
        layer ->
            layer.getClass() == DenseLayer.class
                    && supports(((DenseLayer) layer).layerConf().getActivationFn())
                    && !((DenseLayer) layer).hasLayerNorm()
                ? new ActivationReusingDenseLayer(layer.conf(), layer.params().dataType(), false)
                : null);
  }

  @Override
  public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
    INDArray a = super.activate(training, workspaceMgr);
    lastOutput = training ? a : null;
    return a;
  }

  @Override
  protected Pair<INDArray, INDArray> preOutputWithPreNorm(
      boolean training, boolean forBackprop, LayerWorkspaceMgr workspaceMgr) {
    if (forBackprop && lastOutput != null) {
      // the activation's backprop overwrites this array in place; the next layer, which read it
      // as its input, has already finished its own backward pass
      INDArray a = lastOutput;
      lastOutput = null;
      return new Pair<>(a, a);
    }
    return super.preOutputWithPreNorm(training, forBackprop, workspaceMgr);
  }

  @Override
  public Pair<Gradient, INDArray> backpropGradient(
      INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
    if (!mayDropInputGradient
        || getIndex() != 0
        || lastOutput == null
        || maskArray != null
        || layerConf().getWeightNoise() != null
        || !hasBias()) {
      return super.backpropGradient(epsilon, workspaceMgr);
    }
    assertInputSet(true);
    INDArray a = lastOutput;
    lastOutput = null;
    // the same operations as DL4J's BaseLayer, minus the input gradient
    INDArray delta = layerConf().getActivationFn().backprop(a, epsilon).getFirst();
    Gradient ret = new DefaultGradient();
    INDArray biasGrad = gradientViews.get(DefaultParamInitializer.BIAS_KEY);
    delta.sum(biasGrad, 0);
    ret.gradientForVariable().put(DefaultParamInitializer.BIAS_KEY, biasGrad);
    INDArray weightGrad = gradientViews.get(DefaultParamInitializer.WEIGHT_KEY);
    Nd4j.gemm(input.castTo(weightGrad.dataType()), delta, weightGrad, true, false, 1.0, 0.0);
    ret.gradientForVariable().put(DefaultParamInitializer.WEIGHT_KEY, weightGrad);
    return new Pair<>(ret, null);
  }

  @Override
  public void clear() {
    super.clear();
    lastOutput = null;
  }
}
