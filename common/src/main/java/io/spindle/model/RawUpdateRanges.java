package io.spindle.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The index ranges of the flat parameter vector whose "gradient" is really an update to subtract as
 * is: batch normalisation's running mean and variance (or log10 standard deviation). DL4J computes
 * for them {@code running - (decay * running + (1 - decay) * batchStatistic)}, does not divide it
 * by the batch size ({@code Layer.updaterDivideByMinibatch} is false) and gives them a NoOp
 * updater, so {@code params -= gradient} moves the running statistic towards the batch's (checked
 * in DL4J 1.0.0-M2.1's {@code BatchNormalization}).
 *
 * <p>Spindle treats every gradient as a sum over examples that the global step divides by the
 * number of examples. So that these entries fit that contract, {@link #scaleToSum} multiplies them
 * by the batch size where the gradient is computed ({@code MultiLayerReplica.computeGradient} on
 * the worker): summed over workers and divided by the global batch, they become the
 * example-weighted mean of the workers' updates, which {@code FlatOptimizer} then subtracts raw
 * instead of running its update rule on them.
 */
public final class RawUpdateRanges extends FlatRanges {
  private static final long serialVersionUID = 1L;
  private static final RawUpdateRanges NONE = new RawUpdateRanges(new int[0]);

  private RawUpdateRanges(int[] ranges) {
    super(ranges);
  }

  public static RawUpdateRanges none() {
    return NONE;
  }

  /** The parameters of {@code net} whose gradient DL4J does not divide by the batch size. */
  public static RawUpdateRanges of(MultiLayerNetwork net) {
    return of(net.getLayers(), net.numParams());
  }

  /** The raw-update ranges of the parameter tables of {@code layers}, laid out in order. */
  public static RawUpdateRanges of(Layer[] layers, long numParams) {
    List<Integer> out = new ArrayList<>();
    long offset = 0;
    for (Layer layer : layers) {
      for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
        long n = e.getValue().length();
        String key = e.getKey();
        // DL4J's marker for "an update, not a gradient"; its BatchNormalization also gives exactly
        // these parameters a NoOp updater (Spindle's global updater is NoOp anyway, so that
        // cannot serve as the test here)
        if (!layer.updaterDivideByMinibatch(key)) {
          int from = (int) offset;
          int to = (int) (offset + n);
          if (!out.isEmpty() && out.get(out.size() - 1) == from) {
            out.set(out.size() - 1, to);
          } else {
            out.add(from);
            out.add(to);
          }
        }
        offset += n;
      }
    }
    if (offset != numParams) {
      throw new IllegalStateException(
          "parameter tables cover " + offset + " values, expected " + numParams);
    }
    return out.isEmpty() ? NONE : new RawUpdateRanges(pairs(out));
  }

  /** The ranges within {@code [from, to)}, relative to {@code from} (for a shard of the vector). */
  public RawUpdateRanges slice(int from, int to) {
    int[] sliced = sliced(from, to);
    return sliced.length == 0 ? NONE : new RawUpdateRanges(sliced);
  }

  /** Multiplies the raw entries of a flat gradient by {@code batchSize}, in place. */
  public void scaleToSum(INDArray gradient, double batchSize) {
    INDArray flat = gradient.reshape(gradient.length());
    for (int r = 0; r < count(); r++) {
      flat.get(NDArrayIndex.interval(from(r), to(r))).muli(batchSize);
    }
  }
}
