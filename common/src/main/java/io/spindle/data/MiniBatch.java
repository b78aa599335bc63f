package io.spindle.data;

import java.io.Serializable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One worker's share of one global step: {@code size} examples laid out row-major ({@code size x
 * numFeatures}) with their class labels. A share may be empty when a step has fewer examples than
 * there are workers. A plain class, not a record: Spark's Kryo cannot rebuild records.
 */
public final class MiniBatch implements Serializable {
  private static final long serialVersionUID = 1L;
  private final int step;
  private final int size;
  private final int numFeatures;
  private final float[] features;
  private final byte[] pixels;
  private final int[] labels;
  private final float[] targets;
  private final int[] shape;

  public MiniBatch(int step, int size, int numFeatures, float[] features, int[] labels) {
    this(step, size, numFeatures, features, labels, null, new int[] {1, 1, numFeatures});
  }

  /**
   * @param targets regression targets (one per example), or null for classification
   * @param shape the shape of one example's features: channels, height, width
   */
  public MiniBatch(
      int step,
      int size,
      int numFeatures,
      float[] features,
      int[] labels,
      float[] targets,
      int[] shape) {
    this(step, size, numFeatures, features, null, labels, targets, shape);
  }

  private MiniBatch(
      int step,
      int size,
      int numFeatures,
      float[] features,
      byte[] pixels,
      int[] labels,
      float[] targets,
      int[] shape) {
    long length = features != null ? features.length : pixels.length;
    if (length != (long) size * numFeatures || labels.length != size) {
      throw new IllegalArgumentException(
          "mini-batch of step "
              + step
              + ": expected "
              + size
              + " x "
              + numFeatures
              + " features and "
              + size
              + " labels, found "
              + length
              + " and "
              + labels.length);
    }
    this.step = step;
    this.size = size;
    this.numFeatures = numFeatures;
    this.features = features;
    this.pixels = pixels;
    this.labels = labels;
    if (targets != null && targets.length != size) {
      throw new IllegalArgumentException(
          "mini-batch of step "
              + step
              + ": expected "
              + size
              + " targets, found "
              + targets.length);
    }
    this.targets = targets;
    this.shape = shape.clone();
  }

  /**
   * A classification batch whose features are stored encoded as unsigned 8-bit pixels ({@code size
   * x numFeatures}, row-major): a quarter of the memory of floats. Its features are {@code pixel /
   * 255}, decoded when they are read ({@link #features()}, {@link #featureArray}).
   */
  public static MiniBatch ofPixels(
      int step, int size, int numFeatures, byte[] pixels, int[] labels, int[] shape) {
    return new MiniBatch(step, size, numFeatures, null, pixels, labels, null, shape);
  }

  /** Whether the features are stored encoded as 8-bit pixels. */
  public boolean isEncoded() {
    return pixels != null;
  }

  /**
   * The encoded pixels, {@code size x numFeatures} row-major (the array itself, not a copy: do not
   * modify), or null for a batch of floats.
   */
  public byte[] pixels() {
    return pixels;
  }

  /** Regression targets, or null for a classification batch. */
  public float[] targets() {
    return targets;
  }

  /** The shape of one example: channels, height, width. */
  public int[] shape() {
    return shape.clone();
  }

  public int step() {
    return step;
  }

  public int size() {
    return size;
  }

  public int numFeatures() {
    return numFeatures;
  }

  /** The features, {@code size x numFeatures} row-major; for an encoded batch a decoded copy. */
  public float[] features() {
    if (pixels == null) {
      return features;
    }
    float[] x = new float[pixels.length];
    for (int i = 0; i < x.length; i++) {
      x[i] = Example.PIXEL_VALUES[pixels[i] & 0xFF];
    }
    return x;
  }

  /**
   * Writes the features ({@code size x numFeatures} row-major, decoded) into {@code into[0, size x
   * numFeatures)}, without allocating.
   */
  public void decodeFeatures(float[] into) {
    int n = size * numFeatures;
    if (into.length < n) {
      throw new IllegalArgumentException(
          "mini-batch of step " + step + ": " + n + " features do not fit " + into.length);
    }
    if (pixels == null) {
      System.arraycopy(features, 0, into, 0, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      into[i] = Example.PIXEL_VALUES[pixels[i] & 0xFF];
    }
  }

  public int[] labels() {
    return labels;
  }

  /**
   * Rows {@code [from, to)} of this batch as a batch of their own (copies), for gradient
   * accumulation's micro-batches; encoded pixels stay encoded.
   */
  public MiniBatch rows(int from, int to) {
    if (from < 0 || to > size || from > to) {
      throw new IllegalArgumentException(
          "mini-batch of step " + step + ": rows [" + from + ", " + to + ") of " + size);
    }
    int a = from * numFeatures;
    int b = to * numFeatures;
    return new MiniBatch(
        step,
        to - from,
        numFeatures,
        features == null ? null : java.util.Arrays.copyOfRange(features, a, b),
        pixels == null ? null : java.util.Arrays.copyOfRange(pixels, a, b),
        java.util.Arrays.copyOfRange(labels, from, to),
        targets == null ? null : java.util.Arrays.copyOfRange(targets, from, to),
        shape);
  }

  private static void checkFeatures(Example e, int numFeatures) {
    if (e.numFeatures() != numFeatures) {
      throw new IllegalArgumentException(
          "example "
              + e.index()
              + " has "
              + e.numFeatures()
              + " features, expected "
              + numFeatures);
    }
  }

  public static MiniBatch of(int step, int numFeatures, java.util.List<Example> examples) {
    int n = examples.size();
    if (n > 0 && examples.stream().allMatch(Example::isEncoded)) {
      Example first = examples.get(0);
      byte[] px = new byte[n * numFeatures];
      int[] y = new int[n];
      for (int i = 0; i < n; i++) {
        Example e = examples.get(i);
        checkFeatures(e, numFeatures);
        e.copyPixels(px, i * numFeatures);
        y[i] = e.label();
      }
      return ofPixels(
          step, n, numFeatures, px, y, new int[] {first.channels(), first.height(), first.width()});
    }
    float[] x = new float[n * numFeatures];
    int[] y = new int[n];
    boolean regression = n > 0 && examples.get(0).isRegression();
    float[] t = regression ? new float[n] : null;
    int[] shape = {1, 1, numFeatures};
    if (n > 0) {
      Example first = examples.get(0);
      shape = new int[] {first.channels(), first.height(), first.width()};
    }
    for (int i = 0; i < n; i++) {
      Example e = examples.get(i);
      if (regression) {
        t[i] = e.target();
      }
      checkFeatures(e, numFeatures);
      e.copyFeatures(x, i * numFeatures);
      y[i] = e.label();
    }
    return new MiniBatch(step, n, numFeatures, x, y, t, shape);
  }

  public boolean isEmpty() {
    return size == 0;
  }

  /** The features as a {@code size x numFeatures} array (bulk-copied into native memory). */
  public INDArray featureArray(DataType type) {
    if (pixels == null || pixels.length == 0) {
      return matrix(features(), size, numFeatures, type);
    }
    // decode straight into native memory, a cache-sized piece at a time: no heap copy of the floats
    INDArray flat = Nd4j.createUninitialized(DataType.FLOAT, pixels.length);
    java.nio.FloatBuffer out = flat.data().asNioFloat();
    out.position((int) flat.offset());
    float[] piece = new float[Math.min(pixels.length, 8192)];
    for (int from = 0; from < pixels.length; from += piece.length) {
      int n = Math.min(piece.length, pixels.length - from);
      for (int i = 0; i < n; i++) {
        piece[i] = Example.PIXEL_VALUES[pixels[from + i] & 0xFF];
      }
      out.put(piece, 0, n);
    }
    INDArray m = flat.reshape(size, numFeatures);
    return type == DataType.FLOAT ? m : m.castTo(type);
  }

  /**
   * The labels one-hot encoded as a {@code size x numClasses} array; for a regression batch the
   * targets as a {@code size x 1} array ({@code numClasses} is then the model's output size, 1).
   */
  public INDArray oneHotLabels(DataType type, int numClasses) {
    if (targets != null) {
      return matrix(targets, size, 1, type);
    }
    float[] y = new float[size * numClasses];
    for (int i = 0; i < size; i++) {
      y[i * numClasses + labels[i]] = 1f;
    }
    return matrix(y, size, numClasses, type);
  }

  private static INDArray matrix(float[] values, int rows, int cols, DataType type) {
    if (values.length == 0) {
      return Nd4j.create(type, rows, cols);
    }
    INDArray flat = Nd4j.create(DataType.FLOAT, values.length);
    io.spindle.tensor.FlatVector.copyInto(values, 0, values.length, flat, 0);
    INDArray m = flat.reshape(rows, cols);
    return type == DataType.FLOAT ? m : m.castTo(type);
  }
}
