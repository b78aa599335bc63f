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
  private static final long serialVersionUID = 2L;
  private final int index;
  private final float[] features;
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
    this.label = label;
    this.target = target;
    this.channels = channels;
    this.height = height;
    this.width = width;
  }

  /** A copy with another index (used to renumber a data set densely after skipped records). */
  public Example withIndex(int newIndex) {
    return new Example(newIndex, features, label, target, channels, height, width);
  }

  public int index() {
    return index;
  }

  public float[] features() {
    return features;
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
