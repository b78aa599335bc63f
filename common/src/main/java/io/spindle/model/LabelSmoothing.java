package io.spindle.model;

import io.spindle.config.LayerConfig;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * Softmax cross-entropy against smoothed labels (Szegedy et al. 2016): with {@code K} classes and
 * smoothing {@code e}, the target of an example with one-hot label {@code y} is {@code q = (1 - e)
 * y + e / K}, and the loss is {@code -sum_k q_k log p_k}; its gradient with respect to the softmax
 * input is {@code p - q}. DL4J 1.0.0-M2.1's {@link LossMCXENT} has no such option, so this subclass
 * smooths the labels it is handed and passes them on.
 *
 * <p>Installed on the live output layer only ({@link #install}): the layer gets a copy of its
 * configuration holding this loss, while the network's configuration, which {@code ModelSerializer}
 * writes, keeps DL4J's plain {@code LossMCXENT}. A saved model therefore loads in plain DL4J and
 * predicts the same; only training uses the smoothed loss.
 */
public final class LabelSmoothing extends LossMCXENT {
  private static final long serialVersionUID = 1L;
  private final double epsilon;

  public LabelSmoothing(double epsilon) {
    if (!(epsilon > 0 && epsilon < 1)) {
      throw new IllegalArgumentException("label smoothing must be in (0, 1), got " + epsilon);
    }
    this.epsilon = epsilon;
  }

  public double epsilon() {
    return epsilon;
  }

  /**
   * Gives {@code output}, the live output layer built from {@code config}, the smoothed loss when
   * {@code config.labelSmoothing() > 0}; returns whether it did.
   */
  public static boolean install(Layer output, LayerConfig config) {
    if (config.labelSmoothing() == 0) {
      return false;
    }
    NeuralNetConfiguration own = output.conf().clone();
    if (!(own.getLayer() instanceof BaseOutputLayer out)
        || out.getLossFn().getClass() != LossMCXENT.class) {
      throw new IllegalStateException(
          "label smoothing needs an output layer with DL4J's LossMCXENT, found "
              + own.getLayer().getClass().getSimpleName());
    }
    out.setLossFn(new LabelSmoothing(config.labelSmoothing()));
    output.setConf(own);
    return true;
  }

  private INDArray smooth(INDArray labels) {
    long classes = labels.size(labels.rank() - 1);
    return labels.mul(1.0 - epsilon).addi(epsilon / classes);
  }

  @Override
  public double computeScore(
      INDArray labels,
      INDArray preOutput,
      IActivation activationFn,
      INDArray mask,
      boolean average) {
    return super.computeScore(smooth(labels), preOutput, activationFn, mask, average);
  }

  @Override
  public INDArray computeScoreArray(
      INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
    return super.computeScoreArray(smooth(labels), preOutput, activationFn, mask);
  }

  @Override
  public INDArray computeGradient(
      INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
    return super.computeGradient(smooth(labels), preOutput, activationFn, mask);
  }

  @Override
  public Pair<Double, INDArray> computeGradientAndScore(
      INDArray labels,
      INDArray preOutput,
      IActivation activationFn,
      INDArray mask,
      boolean average) {
    return super.computeGradientAndScore(smooth(labels), preOutput, activationFn, mask, average);
  }

  @Override
  public String name() {
    return "LabelSmoothing(" + epsilon + ")";
  }

  @Override
  public String toString() {
    return name();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LabelSmoothing l && l.epsilon == epsilon;
  }

  @Override
  public int hashCode() {
    return Double.hashCode(epsilon);
  }
}
