package io.spindle.data;

import java.io.Serializable;

/**
 * One labelled example as it sits in Spark's cache: its index in the data set, its features, its
 * class label (or regression target) and the shape of its features ({@code channels x height x
 * width}, row-major per channel; a flat vector is {@code 1 x 1 x n}). The MLP consumes the flat
 * vector; convolutional models can use the shape. A plain class, not a record: Spark's Kryo cannot
 * rebuild records.
 */
public final class Example implements Serializable {
  private static final long serialVersionUID = 3L;
  private final int index;
  private final float[] features;
  private final byte[] pixels;
  private final int label;
  private final float target;
  private final int channels;
  private final int height;
  private final int width;

  /** A classification example with a flat feature vector. */
  public Example(int index, float[] features, int label) {
    this(index, features, label, Float.NaN, 1, 1, features.length);
  }

  /**
   * @param target the regression target, NaN for classification examples
   */
  public Example(
      int index, float[] features, int label, float target, int channels, int height, int width) {
    if ((long) channels * height * width != features.length) {
      throw new IllegalArgumentException(
          "example "
              + index
              + ": shape "
              + channels
              + "x"
              + height
              + "x"
              + width
              + " does not match "
              + features.length
              + " features");
    }
    this.index = index;
    this.features = features;
    this.pixels = null;
    this.label = label;
    this.target = target;
    this.channels = channels;
    this.height = height;
    this.width = width;
  }

  private Example(int index, byte[] pixels, int label, int channels, int height, int width) {
    if ((long) channels * height * width != pixels.length) {
      throw new IllegalArgumentException(
          "example " + index + ": shape does not match " + pixels.length + " pixels");
    }
    this.index = index;
    this.features = null;
    this.pixels = pixels;
    this.label = label;
    this.target = Float.NaN;
    this.channels = channels;
    this.height = height;
    this.width = width;
  }

  /**
   * A classification example stored encoded, as unsigned 8-bit pixels (MNIST, CIFAR): a quarter of
   * the memory, serialisation and shuffle traffic of floats. Its features are {@code pixel / 255}.
   */
  public static Example ofPixels(
      int index, byte[] pixels, int label, int channels, int height, int width) {
    return new Example(index, pixels, label, channels, height, width);
  }

  /** A copy with another index (used to renumber a data set densely after skipped records). */
  public Example withIndex(int newIndex) {
    return pixels != null
        ? new Example(newIndex, pixels, label, channels, height, width)
        : new Example(newIndex, features, label, target, channels, height, width);
  }

  /** Number of features. */
  public int numFeatures() {
    return pixels != null ? pixels.length : features.length;
  }

  /** Writes the features into {@code out[at..at + numFeatures)} (decoding pixels if encoded). */
  public void copyFeatures(float[] out, int at) {
    if (pixels == null) {
      System.arraycopy(features, 0, out, at, features.length);
      return;
    }
    for (int i = 0; i < pixels.length; i++) {
      out[at + i] = PIXEL_VALUES[pixels[i] & 0xFF];
    }
  }

  /** {@code PIXEL_VALUES[p] == p / 255f}: the decoded value of pixel byte {@code p & 0xFF}. */
  static final float[] PIXEL_VALUES = new float[256];

  static {
    for (int p = 0; p < 256; p++) {
      PIXEL_VALUES[p] = p / 255f;
    }
  }

  /** Whether the features are stored encoded as unsigned 8-bit pixels. */
  public boolean isEncoded() {
    return pixels != null;
  }

  /** Writes the encoded pixels into {@code out[at..at + numFeatures)}; encoded examples only. */
  void copyPixels(byte[] out, int at) {
    System.arraycopy(pixels, 0, out, at, pixels.length);
  }

  public int index() {
    return index;
  }

  /** The features; for an encoded example a freshly decoded copy. */
  public float[] features() {
    if (pixels == null) {
      return features;
    }
    float[] x = new float[pixels.length];
    copyFeatures(x, 0);
    return x;
  }

  public int label() {
    return label;
  }

  /** The regression target; NaN for a classification example. */
  public float target() {
    return target;
  }

  public boolean isRegression() {
    return !Float.isNaN(target);
  }

  public int channels() {
    return channels;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }
}
