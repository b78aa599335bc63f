package io.spindle.model;

import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The max-norm constraint: after every optimiser step, the weights into each unit are scaled down
 * to L2 norm {@code c} when longer: {@code w_u <- w_u * min(1, c / ||w_u||)}.
 *
 * <p>A unit's weights are those of one output: a column of a dense, output, embedding or recurrent
 * weight matrix ({@code [in, out]}: the norm runs over the inputs), one filter of a convolution
 * ({@code [out, in, kh, kw]}: over input channels and the window), one row of an attention
 * projection ({@code [heads, headSize, in]} or {@code [in, out]}: over the inputs). Biases and
 * batch normalisation's parameters are not constrained.
 *
 * <p>DL4J applies its constraints inside its updater, which Spindle bypasses, so the global step
 * ({@code io.spindle.optim.GlobalStep#constrain}) applies this after each optimiser step to the
 * full parameter vector: the driver in gradient sharing; every worker after each local step in
 * parameter averaging (an average of vectors each within the ball stays within it); every worker
 * identically on its full copy after the all-gather in the collective engine, whose rank-0 copy the
 * driver commits.
 */
public final class MaxNorm {
  private final double maxNorm;

  /** The unit of each parameter, -1 for unconstrained ones. */
  private final int[] unitOf;

  private final int units;

  private MaxNorm(double maxNorm, int[] unitOf, int units) {
    this.maxNorm = maxNorm;
    this.unitOf = unitOf;
    this.units = units;
  }

  /** The constraint for {@code net}; inactive when {@code maxNorm} is 0. */
  public static MaxNorm of(MultiLayerNetwork net, double maxNorm) {
    return of(net.getLayers(), net.numParams(), maxNorm);
  }

  /** The constraint for the parameter tables of {@code layers}, laid out in order. */
  public static MaxNorm of(Layer[] layers, long numParams, double maxNorm) {
    if (maxNorm == 0) {
      return new MaxNorm(0, null, 0);
    }
    if (!(maxNorm > 0)) {
      throw new IllegalArgumentException("maxNorm must be >= 0, got " + maxNorm);
    }
    int[] unitOf = new int[(int) numParams];
    java.util.Arrays.fill(unitOf, -1);
    int offset = 0;
    int units = 0;
    for (Layer layer : layers) {
      for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
        INDArray p = e.getValue();
        int n = (int) p.length();
        if (Regularization.isWeight(layer, e.getKey())) {
          units += assignUnits(p.shape(), p.ordering(), unitOf, offset, units);
        }
        offset += n;
      }
    }
    if (offset != numParams) {
      throw new IllegalStateException(
          "parameter tables cover " + offset + " values, expected " + numParams);
    }
    return new MaxNorm(maxNorm, unitOf, units);
  }

  /**
   * Labels the entries of one weight array, stored contiguously from {@code offset} in {@code
   * order}, with their unit ({@code first + index along the unit dimension}); returns the number of
   * units. The unit dimension is 0 for rank 4 (convolution filters), the last but one for rank 3
   * (attention {@code [heads, headSize, in]} keeps heads and headSize: a unit per pair) and 1 for
   * rank 2.
   */
  private static int assignUnits(long[] shape, char order, int[] unitOf, int offset, int first) {
    int rank = shape.length;
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    // strides of the storage order
    long[] stride = new long[rank];
    long acc = 1;
    if (order == 'c') {
      for (int d = rank - 1; d >= 0; d--) {
        stride[d] = acc;
        acc *= shape[d];
      }
    } else {
      for (int d = 0; d < rank; d++) {
        stride[d] = acc;
        acc *= shape[d];
      }
    }
    // the unit is the index over the "output" dimensions; the norm runs over the others
    boolean[] unitDim = new boolean[rank];
    if (rank == 4) {
      unitDim[0] = true;
    } else if (rank == 3) {
      unitDim[0] = true;
      unitDim[1] = true;
    } else if (rank == 2) {
      unitDim[1] = true;
    } else {
      unitDim[0] = true;
    }
    int count = 1;
    for (int d = 0; d < rank; d++) {
      if (unitDim[d]) {
        count *= (int) shape[d];
      }
    }
    for (long k = 0; k < n; k++) {
      int unit = 0;
      for (int d = 0; d < rank; d++) {
        if (unitDim[d]) {
          long index = (k / stride[d]) % shape[d];
          unit = unit * (int) shape[d] + (int) index;
        }
      }
      unitOf[(int) (offset + k)] = first + unit;
    }
    return count;
  }

  public boolean isActive() {
    return unitOf != null;
  }

  /** Applies the constraint in place to the full vector {@code params[p, p + numParams)}. */
  public void apply(float[] params, int p) {
    if (unitOf == null) {
      return;
    }
    double[] sumSq = new double[units];
    for (int i = 0; i < unitOf.length; i++) {
      int u = unitOf[i];
      if (u >= 0) {
        double w = params[p + i];
        sumSq[u] += w * w;
      }
    }
    double[] scale = scales(sumSq);
    for (int i = 0; i < unitOf.length; i++) {
      int u = unitOf[i];
      if (u >= 0 && scale[u] != 1.0) {
        params[p + i] = (float) (params[p + i] * scale[u]);
      }
    }
  }

  /** Applies the constraint in place to a full flat parameter vector of either precision. */
  public void apply(INDArray params) {
    if (unitOf == null) {
      return;
    }
    if (params.length() != unitOf.length) {
      throw new IllegalArgumentException(
          "params has " + params.length() + " elements, expected " + unitOf.length);
    }
    double[] w = params.reshape(params.length()).toDoubleVector();
    double[] sumSq = new double[units];
    for (int i = 0; i < unitOf.length; i++) {
      int u = unitOf[i];
      if (u >= 0) {
        sumSq[u] += w[i] * w[i];
      }
    }
    double[] scale = scales(sumSq);
    boolean changed = false;
    for (int i = 0; i < unitOf.length; i++) {
      int u = unitOf[i];
      if (u >= 0 && scale[u] != 1.0) {
        w[i] *= scale[u];
        changed = true;
      }
    }
    if (changed) {
      INDArray updated = Nd4j.createFromArray(w);
      if (params.dataType() != DataType.DOUBLE) {
        updated = updated.castTo(params.dataType());
      }
      params.assign(updated.reshape(params.shape()));
    }
  }

  /** The largest norm of any unit's weights in {@code params} (for tests and diagnostics). */
  public double largestNorm(INDArray params) {
    double[] w = params.reshape(params.length()).toDoubleVector();
    double[] sumSq = new double[units];
    for (int i = 0; i < unitOf.length; i++) {
      if (unitOf[i] >= 0) {
        sumSq[unitOf[i]] += w[i] * w[i];
      }
    }
    double max = 0;
    for (double s : sumSq) {
      max = Math.max(max, Math.sqrt(s));
    }
    return max;
  }

  public int units() {
    return units;
  }

  private double[] scales(double[] sumSq) {
    double[] scale = new double[sumSq.length];
    for (int u = 0; u < sumSq.length; u++) {
      double norm = Math.sqrt(sumSq[u]);
      scale[u] = norm > maxNorm ? maxNorm / norm : 1.0;
    }
    return scale;
  }
}
