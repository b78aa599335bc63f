package io.spindle.model;

import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Gradient of the L1/L2 penalty on the flat parameter vector.
 *
 * <p>The penalised loss is {@code L(w) + l1 * sum|w_i| + (l2 / 2) * sum w_i^2} over the weights of
 * every layer (dense, convolution, recurrent input and recurrent weights, embedding, attention
 * projections; biases and batch normalisation's parameters are not penalised), so its gradient
 * gains {@code l1 * sign(w) + l2 * w} on the weight entries. DL4J adds these terms inside its
 * updater, which Spindle does not use, so the global step ({@code io.spindle.optim.GlobalStep})
 * adds them to the mean data gradient before the optimiser step, wherever that step runs.
 */
public final class Regularization {
  private final double l1;
  private final double l2;
  private final INDArray mask;
  private float[] heapMask;

  private Regularization(double l1, double l2, INDArray mask) {
    this.l1 = l1;
    this.l2 = l2;
    this.mask = mask;
  }

  /** The penalty of {@code net}'s configuration; the mask marks the parameters DL4J regularises. */
  public static Regularization of(MultiLayerNetwork net, double l1, double l2) {
    return of(net.getLayers(), net.numParams(), net.params().dataType(), l1, l2);
  }

  /**
   * The penalty of a network whose flat parameter vector of {@code numParams} values holds the
   * parameter tables of {@code layers} in order (a multi-layer network, or a graph's layers in
   * topological order).
   */
  public static Regularization of(
      Layer[] layers, long numParams, DataType type, double l1, double l2) {
    if (l1 == 0 && l2 == 0) {
      return new Regularization(0, 0, null);
    }
    INDArray mask = Nd4j.zeros(type, numParams);
    long offset = 0;
    for (Layer layer : layers) {
      for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
        long n = e.getValue().length();
        boolean regularised =
            isWeight(layer, e.getKey())
                && !layer.conf().getLayer().getRegularizationByParam(e.getKey()).isEmpty();
        if (regularised) {
          mask.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(offset, offset + n)).assign(1.0);
        }
        offset += n;
      }
    }
    if (offset != numParams) {
      throw new IllegalStateException(
          "parameter tables cover " + offset + " values, expected " + numParams);
    }
    return new Regularization(l1, l2, mask);
  }

  /** Whether DL4J's initialiser of {@code layer} calls {@code key} a weight (not a bias). */
  static boolean isWeight(Layer layer, String key) {
    return layer.conf().getLayer().initializer().isWeightParam(layer.conf().getLayer(), key);
  }

  /** The penalty restricted to parameters {@code [from, to)} (for a shard of the vector). */
  public Regularization slice(long from, long to) {
    if (mask == null) {
      return this;
    }
    return new Regularization(
        l1, l2, mask.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(from, to)).dup());
  }

  public boolean isActive() {
    return mask != null;
  }

  /**
   * The same on Java arrays: {@code grad[g + i] += l1 * sign(w) + l2 * w} for {@code w = params[p +
   * i]} where the mask is set, i over the mask's length.
   */
  public void addGradient(float[] params, int p, float[] grad, int g) {
    if (mask == null) {
      return;
    }
    if (heapMask == null) {
      heapMask = mask.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).toFloatVector();
    }
    float fl1 = (float) l1;
    float fl2 = (float) l2;
    for (int i = 0; i < heapMask.length; i++) {
      if (heapMask[i] != 0f) {
        float w = params[p + i];
        grad[g + i] += fl2 * w + fl1 * Math.signum(w);
      }
    }
  }

  /**
   * The penalty {@code l1 * sum|w| + (l2 / 2) * sum w^2} over the masked entries of {@code params}
   * (the objective whose gradient {@link #addGradient} adds; DL4J's own score leaves out some
   * layers, such as self-attention).
   */
  public double penalty(INDArray params) {
    if (mask == null) {
      return 0;
    }
    INDArray w = params.reshape(mask.shape()).mul(mask);
    return l1 * w.norm1Number().doubleValue() + l2 / 2 * Math.pow(w.norm2Number().doubleValue(), 2);
  }

  /** {@code gradient += l1 * sign(w) * mask + l2 * w * mask}, in place. */
  public void addGradient(INDArray params, INDArray gradient) {
    if (mask == null) {
      return;
    }
    params = params.reshape(mask.shape());
    gradient = gradient.reshape(mask.shape());
    if (l2 != 0) {
      gradient.addi(params.mul(mask).muli(l2));
    }
    if (l1 != 0) {
      gradient.addi(Transforms.sign(params, true).muli(mask).muli(l1));
    }
  }
}
