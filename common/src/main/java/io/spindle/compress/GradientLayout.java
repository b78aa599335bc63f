package io.spindle.compress;

import io.spindle.model.ParameterRules;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * How a flat gradient vector maps to the network's tensors: consecutive ranges, each a matrix of
 * {@code rows x cols} values stored row-major ({@code value(r, c) = flat[offset + r * cols + c]})
 * or a vector ({@code rows == 1}). The compression codecs use it to find the weight matrices (which
 * PowerSGD approximates by low-rank factors) and the vectors (biases, batch-norm parameters: sent
 * as they are, as PowerSGD does).
 *
 * <p>{@link #of(MultiLayerNetwork)} reads DL4J's parameter views: a view of rank >= 2 in 'c' order
 * {@code [d0, d1, ...]} is the row-major matrix {@code d0 x (d1 * ...)} (a convolution's {@code
 * [out, in, kh, kw]} becomes {@code out x in*kh*kw}, as in PowerSGD's reference code); a view in
 * 'f' order {@code [.., dk]} is the row-major matrix {@code dk x (d0 * ... * dk-1)} (a dense
 * layer's {@code W [nIn, nOut]} becomes {@code nOut x nIn}). Views with a dimension of 1 are
 * vectors.
 */
public final class GradientLayout {
  /**
   * One tensor of the flat vector.
   *
   * @param name the layer index (a graph's: the layer name) and parameter key, e.g. {@code 0_W},
   *     for messages
   * @param offset its first index in the flat vector
   * @param rows 1 for a vector
   * @param cols the values per row
   */
  public record Tensor(String name, int offset, int rows, int cols) {
    public Tensor {
      if (offset < 0 || rows < 1 || cols < 1) {
        throw new IllegalArgumentException(
            "tensor "
                + name
                + ": offset must be >= 0 and rows, cols >= 1, got offset "
                + offset
                + ", "
                + rows
                + " x "
                + cols);
      }
    }

    public int length() {
      return rows * cols;
    }

    /** A matrix in the sense of PowerSGD: at least two rows and two columns. */
    public boolean isMatrix() {
      return rows > 1 && cols > 1;
    }
  }

  private final List<Tensor> tensors;
  private final int length;

  private GradientLayout(List<Tensor> tensors, int length) {
    this.tensors = tensors;
    this.length = length;
  }

  /**
   * A layout from tensors that cover {@code [0, length)} in order without gaps or overlaps; refused
   * otherwise, naming the first tensor that does not fit.
   */
  public static GradientLayout of(List<Tensor> tensors) {
    int next = 0;
    for (Tensor t : tensors) {
      if (t.offset() != next) {
        throw new IllegalArgumentException(
            "tensor "
                + t.name()
                + " starts at "
                + t.offset()
                + ", expected "
                + next
                + " (tensors must cover the vector in order, without gaps)");
      }
      long end = (long) next + t.length();
      if (end > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("tensor " + t.name() + " ends beyond 2^31 - 1 values");
      }
      next = (int) end;
    }
    return new GradientLayout(List.copyOf(tensors), next);
  }

  /** The layout of {@code net}'s flat parameter (and gradient) vector. */
  public static GradientLayout of(MultiLayerNetwork net) {
    return of(net.getLayers(), net.numParams(), false);
  }

  /**
   * The layout of a graph's flat parameter (and gradient) vector: DL4J lays it out layer by layer
   * in the graph's topological order, which need not be the order of {@code getLayers()}, so the
   * layers are taken in the order of their views ({@link ParameterRules#layersInFlatOrder}).
   */
  public static GradientLayout of(ComputationGraph net) {
    return of(ParameterRules.layersInFlatOrder(net), net.numParams(), true);
  }

  /** The layout of a stack's or a graph's flat parameter vector. */
  public static GradientLayout of(Model net) {
    if (net instanceof MultiLayerNetwork stack) {
      return of(stack);
    }
    if (net instanceof ComputationGraph graph) {
      return of(graph);
    }
    throw new IllegalArgumentException(
        "expected a MultiLayerNetwork or a ComputationGraph, found " + net.getClass().getName());
  }

  /** Tensors named by layer index and key ({@code 0_W}), or by layer name ({@code a1_W}). */
  private static GradientLayout of(Layer[] layers, long numParams, boolean byName) {
    List<Tensor> out = new ArrayList<>();
    long offset = 0;
    for (int i = 0; i < layers.length; i++) {
      for (Map.Entry<String, INDArray> e : layers[i].paramTable().entrySet()) {
        INDArray v = e.getValue();
        long n = v.length();
        long rows = 1;
        if (v.rank() >= 2) {
          long[] shape = v.shape();
          rows = v.ordering() == 'f' ? shape[shape.length - 1] : shape[0];
        }
        long cols = n / rows;
        if (rows == 1 || cols == 1) {
          rows = 1;
          cols = n;
        }
        String layer = byName ? layers[i].conf().getLayer().getLayerName() : String.valueOf(i);
        out.add(new Tensor(layer + "_" + e.getKey(), (int) offset, (int) rows, (int) cols));
        offset += n;
      }
    }
    if (offset != numParams) {
      throw new IllegalStateException(
          "parameter tables cover " + offset + " values, expected " + numParams);
    }
    return of(out);
  }

  /** A layout of one vector of {@code length} values (nothing to approximate). */
  public static GradientLayout vector(int length) {
    return of(List.of(new Tensor("vector", 0, 1, length)));
  }

  public List<Tensor> tensors() {
    return tensors;
  }

  /** Values in the flat vector. */
  public int length() {
    return length;
  }

  /** A fingerprint of the shapes, so that saved codec state is not restored into another model. */
  public long fingerprint() {
    long h = 1125899906842597L;
    for (Tensor t : tensors) {
      h = 31 * h + t.offset();
      h = 31 * h + t.rows();
      h = 31 * h + t.cols();
    }
    return 31 * h + length;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("GradientLayout[");
    for (Tensor t : tensors) {
      sb.append(t.name()).append(' ').append(t.rows()).append('x').append(t.cols()).append(", ");
    }
    return sb.append(length).append(" values]").toString();
  }
}
