package io.spindle.model;

import io.spindle.config.Activation;
import io.spindle.data.MiniBatch;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The frozen, already pre-trained lower layers of a network: {@code h = f(x W + b)} for each layer
 * in turn. Workers apply it to their mini-batches to get the input (and the reconstruction target)
 * of the layer being pre-trained. Immutable; computed in float32.
 */
public final class EncoderStack implements Serializable {
  private static final long serialVersionUID = 1L;
  private final List<Frozen> layers;
  private transient List<INDArray[]> arrays;

  /** One frozen dense layer: weights {@code nIn x nOut} row-major, biases, activation. */
  private record Frozen(int nIn, int nOut, float[] weights, float[] bias, Activation activation)
      implements Serializable {}

  private EncoderStack(List<Frozen> layers) {
    this.layers = List.copyOf(layers);
  }

  public static EncoderStack empty() {
    return new EncoderStack(List.of());
  }

  /**
   * This stack with one more layer on top: weights {@code w} ({@code nIn x nOut}), bias {@code b}.
   */
  public EncoderStack plus(INDArray w, INDArray b, Activation activation) {
    if (w.rank() != 2 || b.length() != w.columns()) {
      throw new IllegalArgumentException(
          "expected weights nIn x nOut and nOut biases, got "
              + java.util.Arrays.toString(w.shape())
              + " and "
              + b.length());
    }
    if (!layers.isEmpty() && layers.get(layers.size() - 1).nOut() != w.rows()) {
      throw new IllegalArgumentException(
          "layer "
              + layers.size()
              + " takes "
              + w.rows()
              + " inputs, but the stack's top layer has "
              + layers.get(layers.size() - 1).nOut()
              + " outputs");
    }
    List<Frozen> out = new ArrayList<>(layers);
    out.add(
        new Frozen(
            (int) w.rows(),
            (int) w.columns(),
            w.castTo(DataType.FLOAT).dup('c').data().asFloat(),
            b.castTo(DataType.FLOAT).dup('c').data().asFloat(),
            activation));
    return new EncoderStack(out);
  }

  /** Number of frozen layers. */
  public int depth() {
    return layers.size();
  }

  /** The activations of the top layer for the rows of {@code x} (float32). */
  public INDArray encode(INDArray x) {
    INDArray h = x.castTo(DataType.FLOAT);
    List<INDArray[]> a = arrays();
    for (int i = 0; i < layers.size(); i++) {
      INDArray z = h.mmul(a.get(i)[0]).addiRowVector(a.get(i)[1]);
      h = ModelFactory.activation(layers.get(i).activation()).getActivation(z, false);
    }
    return h;
  }

  /** {@code batch} with its features replaced by their encoding; step and labels kept. */
  public MiniBatch encode(MiniBatch batch) {
    if (layers.isEmpty()) {
      return batch;
    }
    int width = layers.get(layers.size() - 1).nOut();
    float[] h =
        batch.isEmpty()
            ? new float[0]
            : encode(batch.featureArray(DataType.FLOAT)).dup('c').data().asFloat();
    return new MiniBatch(
        batch.step(),
        batch.size(),
        width,
        h,
        batch.labels(),
        batch.targets(),
        new int[] {1, 1, width});
  }

  private List<INDArray[]> arrays() {
    if (arrays == null) {
      List<INDArray[]> out = new ArrayList<>();
      for (Frozen f : layers) {
        out.add(
            new INDArray[] {
              Nd4j.create(f.weights(), new long[] {f.nIn(), f.nOut()}, 'c'),
              Nd4j.create(f.bias(), new long[] {1, f.nOut()}, 'c')
            });
      }
      arrays = out;
    }
    return arrays;
  }
}
