package io.spindle.model;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.dropout.IDropout;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Inverted dropout whose masks come from an explicit {@link StepKey}, never from ND4J's
 * process-wide generator: DL4J's own {@link Dropout} draws from {@code Nd4j.getRandom()}, which a
 * caller would have to reseed before every step (hidden global state, and masks that depend on
 * which worker computes which rows).
 *
 * <p>For the example in row r of the layer's input (dimension 0 is the example in every DL4J
 * layout: {@code [batch, features]}, {@code [batch, channels, height, width]}, {@code [batch, size,
 * time]}), element j of the row (in row-major order of the remaining dimensions) is kept, and
 * scaled by 1/p, when {@code StepKey.uniform(key.exampleSeed(r, layer), j) < p}; otherwise it is
 * set to 0. p is DL4J's retain probability (1 - the config's {@code dropout}). So the mask of an
 * example is a function of (seed, global step, its index in the global batch, layer) alone.
 *
 * <p>{@link #install} puts one of these on every layer of a network that has a plain DL4J dropout;
 * {@link #key} gives them the key of the next training forward pass. The network's configuration
 * ({@code getLayerWiseConfigurations()}, what {@code ModelSerializer} saves) keeps DL4J's own
 * {@link Dropout}: only each layer's private copy of its configuration is changed, so saved models
 * stay stock DL4J. A training forward pass without a key fails loudly.
 */
public final class KeyedDropout implements IDropout {
  private static final long serialVersionUID = 1L;
  private final double p;
  private final int layer;
  private transient StepKey key;
  private transient INDArray mask;

  /**
   * @param p the probability of keeping an activation, in (0, 1]
   * @param layer the layer's index, which names the stream of its draws
   */
  public KeyedDropout(double p, int layer) {
    if (!(p > 0 && p <= 1)) {
      throw new IllegalArgumentException("retain probability must be in (0, 1], got " + p);
    }
    this.p = p;
    this.layer = layer;
  }

  public double retainProbability() {
    return p;
  }

  /**
   * Replaces the plain DL4J dropout of every layer of {@code net} by a keyed one with the same
   * retain probability, in each layer's own copy of its configuration. Any other kind of dropout (a
   * schedule, Gaussian dropout, ...) is refused: Spindle's configs never make one.
   */
  public static void install(MultiLayerNetwork net) {
    install(net.getLayers());
  }

  /** As {@link #install(MultiLayerNetwork)}, for the layers of any network (a graph's too). */
  public static void install(Layer[] layers) {
    for (int i = 0; i < layers.length; i++) {
      NeuralNetConfiguration conf = layers[i].conf();
      IDropout d = conf.getLayer().getIDropout();
      if (d == null || d instanceof KeyedDropout) {
        continue;
      }
      if (!(d instanceof Dropout plain) || plain.getPSchedule() != null) {
        throw new IllegalArgumentException(
            "layer " + i + ": expected a plain DL4J Dropout with a fixed probability, got " + d);
      }
      NeuralNetConfiguration own = conf.clone();
      own.getLayer().setIDropout(new KeyedDropout(plain.getP(), i));
      layers[i].setConf(own);
    }
  }

  /** Gives every keyed dropout of {@code net} the key of its next training forward pass. */
  public static void key(MultiLayerNetwork net, StepKey key) {
    key(net.getLayers(), key);
  }

  /** As {@link #key(MultiLayerNetwork, StepKey)}, for the layers of any network. */
  public static void key(Layer[] layers, StepKey key) {
    for (Layer l : layers) {
      if (l.conf().getLayer().getIDropout() instanceof KeyedDropout k) {
        k.key = key;
      }
    }
  }

  @Override
  public INDArray applyDropout(
      INDArray input, INDArray output, int iteration, int epoch, LayerWorkspaceMgr workspaceMgr) {
    if (key == null) {
      throw new IllegalStateException(
          "dropout of layer "
              + layer
              + " has no step key: call KeyedDropout.key(net, key) before a training forward pass");
    }
    long[] shape = output.shape();
    int rows = (int) shape[0];
    int width = rows == 0 ? 0 : (int) (output.length() / rows);
    INDArray values;
    try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
      values =
          output.dataType() == DataType.DOUBLE
              ? Nd4j.create(doubleMask(rows, width), shape, 'c')
              : Nd4j.create(floatMask(rows, width), shape, 'c').castTo(output.dataType());
    }
    mask = workspaceMgr.createUninitialized(ArrayType.INPUT, output.dataType(), shape, 'c');
    mask.assign(values);
    INDArray in = input;
    if (in != output && in.dataType() != output.dataType()) {
      in = in.castTo(output.dataType());
    }
    Nd4j.getExecutioner().exec(new MulOp(in, mask, output));
    return output;
  }

  private float[] floatMask(int rows, int width) {
    float kept = (float) (1.0 / p);
    float[] m = new float[rows * width];
    for (int r = 0, o = 0; r < rows; r++) {
      long s = key.exampleSeed(r, layer);
      for (int j = 0; j < width; j++, o++) {
        m[o] = StepKey.uniform(s, j) < p ? kept : 0f;
      }
    }
    return m;
  }

  private double[] doubleMask(int rows, int width) {
    double kept = 1.0 / p;
    double[] m = new double[rows * width];
    for (int r = 0, o = 0; r < rows; r++) {
      long s = key.exampleSeed(r, layer);
      for (int j = 0; j < width; j++, o++) {
        m[o] = StepKey.uniform(s, j) < p ? kept : 0.0;
      }
    }
    return m;
  }

  @Override
  public INDArray backprop(INDArray gradAtOutput, INDArray gradAtInput, int iteration, int epoch) {
    if (mask == null) {
      throw new IllegalStateException(
          "dropout of layer " + layer + ": no mask to backpropagate through (already cleared?)");
    }
    INDArray m =
        mask.dataType() == gradAtInput.dataType() ? mask : mask.castTo(gradAtInput.dataType());
    Nd4j.getExecutioner().exec(new MulOp(gradAtOutput, m, gradAtInput));
    mask = null;
    return gradAtInput;
  }

  @Override
  public void clear() {
    mask = null;
  }

  @Override
  public KeyedDropout clone() {
    return new KeyedDropout(p, layer);
  }

  @Override
  public String toString() {
    return "KeyedDropout(p=" + p + ", layer " + layer + ")";
  }
}
