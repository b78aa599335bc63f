package io.spindle.data;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Many examples of one shape in a few flat arrays: what Spark caches and shuffles instead of one
 * object per example. Row {@code i} has an id ({@code ids[i]}: the example's index in the data set
 * in the cache, its epoch position in a shuffle), a label, a regression target (classification
 * blocks have none) and {@code numFeatures} features stored either encoded as unsigned 8-bit pixels
 * (MNIST, CIFAR: feature = pixel / 255) or as floats. A few large arrays serialise at memory speed,
 * where per-example objects cost a Kryo record, a class tag and a reference lookup each.
 *
 * <p>A plain class, not a record: Spark's Kryo cannot rebuild records.
 */
public final class ExampleBlock implements Serializable {
  private static final long serialVersionUID = 1L;

  private final int[] ids;
  private final int[] labels;
  private final float[] targets;
  private final byte[] pixels;
  private final float[] features;
  private final int channels;
  private final int height;
  private final int width;

  private ExampleBlock(
      int[] ids,
      int[] labels,
      float[] targets,
      byte[] pixels,
      float[] features,
      int channels,
      int height,
      int width) {
    this.ids = ids;
    this.labels = labels;
    this.targets = targets;
    this.pixels = pixels;
    this.features = features;
    this.channels = channels;
    this.height = height;
    this.width = width;
  }

  /** Rows in this block. */
  public int size() {
    return ids.length;
  }

  public int numFeatures() {
    return channels * height * width;
  }

  /** The shape of one row's features: channels, height, width. */
  public int[] shape() {
    return new int[] {channels, height, width};
  }

  public boolean isRegression() {
    return targets != null;
  }

  /** Bytes one row's features take in this block (1 encoded, 4 as floats). */
  public int bytesPerFeature() {
    return pixels != null ? 1 : 4;
  }

  public int id(int row) {
    return ids[row];
  }

  public int label(int row) {
    return labels[row];
  }

  /**
   * Writes row {@code row}'s features, decoded, into {@code out[at..at + numFeatures)}; values are
   * exactly those of {@link Example#copyFeatures}.
   */
  public void copyFeatures(int row, float[] out, int at) {
    int d = numFeatures();
    if (pixels == null) {
      System.arraycopy(features, row * d, out, at, d);
      return;
    }
    int from = row * d;
    for (int i = 0; i < d; i++) {
      out[at + i] = Example.PIXEL_VALUES[pixels[from + i] & 0xFF];
    }
  }

  /** Writes row {@code row}'s encoded pixels into {@code out[at..at + numFeatures)}. */
  public void copyPixels(int row, byte[] out, int at) {
    if (pixels == null) {
      throw new IllegalStateException("block of float features has no encoded pixels");
    }
    int d = numFeatures();
    System.arraycopy(pixels, row * d, out, at, d);
  }

  /** Row {@code row} as an {@link Example} whose index is the row's id. */
  public Example example(int row) {
    int d = numFeatures();
    if (pixels != null) {
      byte[] px = new byte[d];
      System.arraycopy(pixels, row * d, px, 0, d);
      return Example.ofPixels(ids[row], px, labels[row], channels, height, width);
    }
    float[] x = new float[d];
    System.arraycopy(features, row * d, x, 0, d);
    return new Example(
        ids[row],
        x,
        labels[row],
        targets == null ? Float.NaN : targets[row],
        channels,
        height,
        width);
  }

  /**
   * The rows {@code rows[0..count)} of this block in that order, with ids {@code newIds[0..count)}.
   */
  public ExampleBlock select(int[] rows, int[] newIds, int count) {
    int d = numFeatures();
    int[] l = new int[count];
    float[] t = targets == null ? null : new float[count];
    byte[] px = pixels == null ? null : new byte[count * d];
    float[] x = features == null ? null : new float[count * d];
    for (int i = 0; i < count; i++) {
      int r = rows[i];
      l[i] = labels[r];
      if (t != null) {
        t[i] = targets[r];
      }
      if (px != null) {
        System.arraycopy(pixels, r * d, px, i * d, d);
      } else {
        System.arraycopy(features, r * d, x, i * d, d);
      }
    }
    return new ExampleBlock(
        java.util.Arrays.copyOf(newIds, count), l, t, px, x, channels, height, width);
  }

  /** The rows as examples, one at a time. */
  public Iterator<Example> examples() {
    return new Iterator<>() {
      private int row = 0;

      @Override
      public boolean hasNext() {
        return row < size();
      }

      @Override
      public Example next() {
        if (row >= size()) {
          throw new NoSuchElementException();
        }
        return example(row++);
      }
    };
  }

  /**
   * Packs {@code examples} lazily into blocks of at most {@code maxRows} rows and about {@code
   * maxBytes} bytes of features (at least one row each); a new block starts whenever the shape or
   * the encoding changes. Ids are the examples' indices.
   */
  public static Iterator<ExampleBlock> pack(
      Iterator<Example> examples, int maxRows, long maxBytes) {
    if (maxRows <= 0 || maxBytes <= 0) {
      throw new IllegalArgumentException(
          "expected maxRows > 0 and maxBytes > 0, got " + maxRows + " and " + maxBytes);
    }
    return new Iterator<>() {
      private Example pending;

      @Override
      public boolean hasNext() {
        return pending != null || examples.hasNext();
      }

      @Override
      public ExampleBlock next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        List<Example> rows = new ArrayList<>();
        Example first = pending != null ? pending : examples.next();
        pending = null;
        rows.add(first);
        long rowBytes = (long) first.numFeatures() * (first.isEncoded() ? 1 : 4);
        long limit = Math.max(1, Math.min(maxRows, maxBytes / Math.max(1, rowBytes)));
        while (rows.size() < limit && examples.hasNext()) {
          Example e = examples.next();
          if (!sameKind(first, e)) {
            pending = e;
            break;
          }
          rows.add(e);
        }
        return of(rows);
      }
    };
  }

  private static boolean sameKind(Example a, Example b) {
    return a.isEncoded() == b.isEncoded()
        && a.isRegression() == b.isRegression()
        && a.channels() == b.channels()
        && a.height() == b.height()
        && a.width() == b.width();
  }

  /** One block of examples of the same shape, encoding and task; ids are their indices. */
  public static ExampleBlock of(List<Example> rows) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("a block needs at least one example");
    }
    Example first = rows.get(0);
    int n = rows.size();
    int d = first.numFeatures();
    int[] ids = new int[n];
    int[] labels = new int[n];
    float[] targets = first.isRegression() ? new float[n] : null;
    byte[] px = first.isEncoded() ? new byte[n * d] : null;
    float[] x = first.isEncoded() ? null : new float[n * d];
    for (int i = 0; i < n; i++) {
      Example e = rows.get(i);
      if (!sameKind(first, e)) {
        throw new IllegalArgumentException(
            "example "
                + e.index()
                + " differs in shape, encoding or task from example "
                + first.index()
                + " of the same block");
      }
      ids[i] = e.index();
      labels[i] = e.label();
      if (targets != null) {
        targets[i] = e.target();
      }
      if (px != null) {
        e.copyPixels(px, i * d);
      } else {
        e.copyFeatures(x, i * d);
      }
    }
    return new ExampleBlock(
        ids, labels, targets, px, x, first.channels(), first.height(), first.width());
  }

  /**
   * Copies row {@code row} into row {@code at} of a mini-batch being assembled: its decoded
   * features to {@code features[featureAt..]}, its label and (when {@code targetsOut} is not null)
   * its target.
   */
  public void copyRow(
      int row, float[] features, int featureAt, int[] labelsOut, float[] targetsOut, int at) {
    copyFeatures(row, features, featureAt);
    labelsOut[at] = labels[row];
    if (targetsOut != null) {
      targetsOut[at] = targets == null ? Float.NaN : targets[row];
    }
  }
}
