package io.spindle.model;

import io.spindle.config.ParameterGroup;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What kind of parameter each entry of the flat vector is: a weight, a bias, batch normalisation's
 * scale or shift, or batch normalisation's running statistics. Derived from the layers' parameter
 * tables in the order of the flat vector (the same walk as {@link Regularization} and {@link
 * RawUpdateRanges}), kept as contiguous runs of one kind, so that weight decay can pick the runs it
 * applies to ({@link #decayed}).
 */
public final class ParameterKinds implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  /** The kind of a parameter tensor. */
  public enum Kind {
    /** Weights of dense, convolution, recurrent, embedding and attention layers. */
    WEIGHT,
    /** Biases. */
    BIAS,
    /** Batch normalisation's scale (gamma) and shift (beta). */
    BATCH_NORM,
    /** Batch normalisation's running mean and variance: updated raw, never decayed. */
    STATISTICS
  }

  private final long numParams;

  /** Runs {@code from, to} (exclusive), ascending and adjacent, with their kinds. */
  private final int[] runs;

  private final Kind[] kinds;

  private ParameterKinds(long numParams, int[] runs, Kind[] kinds) {
    this.numParams = numParams;
    this.runs = runs;
    this.kinds = kinds;
  }

  /** The kinds of the parameter tables of {@code layers}, laid out in order. */
  public static ParameterKinds of(Layer[] layers, long numParams) {
    List<int[]> runs = new ArrayList<>();
    List<Kind> kinds = new ArrayList<>();
    long offset = 0;
    for (Layer layer : layers) {
      for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
        long n = e.getValue().length();
        Kind kind = kindOf(layer, e.getKey());
        int from = (int) offset;
        int to = (int) (offset + n);
        int last = kinds.size() - 1;
        if (last >= 0 && kinds.get(last) == kind && runs.get(last)[1] == from) {
          runs.get(last)[1] = to;
        } else if (n > 0) {
          runs.add(new int[] {from, to});
          kinds.add(kind);
        }
        offset += n;
      }
    }
    if (offset != numParams) {
      throw new IllegalStateException(
          "parameter tables cover " + offset + " values, expected " + numParams);
    }
    int[] flat = new int[2 * runs.size()];
    for (int i = 0; i < runs.size(); i++) {
      flat[2 * i] = runs.get(i)[0];
      flat[2 * i + 1] = runs.get(i)[1];
    }
    return new ParameterKinds(numParams, flat, kinds.toArray(new Kind[0]));
  }

  static Kind kindOf(Layer layer, String key) {
    if (!layer.updaterDivideByMinibatch(key)) {
      return Kind.STATISTICS;
    }
    org.deeplearning4j.nn.conf.layers.Layer conf = layer.conf().getLayer();
    if (conf instanceof BatchNormalization) {
      return Kind.BATCH_NORM;
    }
    if (conf.initializer().isBiasParam(conf, key)) {
      return Kind.BIAS;
    }
    return Kind.WEIGHT;
  }

  public long numParams() {
    return numParams;
  }

  /** The kind of entry {@code i} of the flat vector. */
  public Kind kindAt(long i) {
    if (i < 0 || i >= numParams) {
      throw new IndexOutOfBoundsException("entry " + i + " of " + numParams + " parameters");
    }
    for (int r = 0; r < kinds.length; r++) {
      if (i < runs[2 * r + 1]) {
        return kinds[r];
      }
    }
    throw new IllegalStateException("entry " + i + " is in no run");
  }

  /**
   * The ranges {@code from, to} (exclusive, ascending), clipped to {@code [lo, hi)}, of the entries
   * weight decay applies to when it leaves out {@code exclude}: every kind but the running
   * statistics and the excluded groups.
   */
  public int[] decayed(Collection<ParameterGroup> exclude, int lo, int hi) {
    List<Integer> out = new ArrayList<>();
    for (int r = 0; r < kinds.length; r++) {
      Kind k = kinds[r];
      boolean skip =
          k == Kind.STATISTICS
              || (k == Kind.BIAS && exclude.contains(ParameterGroup.BIAS))
              || (k == Kind.BATCH_NORM && exclude.contains(ParameterGroup.BATCH_NORM));
      int from = Math.max(lo, runs[2 * r]);
      int to = Math.min(hi, runs[2 * r + 1]);
      if (skip || from >= to) {
        continue;
      }
      if (!out.isEmpty() && out.get(out.size() - 1) == from) {
        out.set(out.size() - 1, to);
      } else {
        out.add(from);
        out.add(to);
      }
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }
}
