package io.spindle.data;

import java.io.Serializable;

/**
 * One labelled example as it sits in Spark's cache: its index in the data set, its features and its
 * class label. A plain class, not a record: Spark's Kryo cannot rebuild records.
 */
public final class Example implements Serializable {
  private static final long serialVersionUID = 1L;
  private final int index;
  private final float[] features;
  private final int label;

  public Example(int index, float[] features, int label) {
    this.index = index;
    this.features = features;
    this.label = label;
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
}
