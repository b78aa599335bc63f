package io.spindle.tensor;

import java.io.Serializable;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A flat vector of parameters, gradients or optimiser state as it crosses the wire between driver
 * and executors: plain Java arrays (float32 or float64), so Spark serialises it without ND4J.
 */
public final class FlatVector implements Serializable {
  private static final long serialVersionUID = 1L;
  private final float[] floats;
  private final double[] doubles;

  private FlatVector(float[] floats, double[] doubles) {
    this.floats = floats;
    this.doubles = doubles;
  }

  public static FlatVector of(float[] values) {
    return new FlatVector(values, null);
  }

  public static FlatVector of(double[] values) {
    return new FlatVector(null, values);
  }

  public static FlatVector zeros(DataType type, int length) {
    return type == DataType.DOUBLE ? of(new double[length]) : of(new float[length]);
  }

  /** A copy of {@code array}'s values in its own precision (float or double). */
  public static FlatVector copyOf(INDArray array) {
    if (array.dataType() == DataType.DOUBLE) {
      return of(array.toDoubleVector());
    }
    if (array.dataType() == DataType.FLOAT) {
      float[] out = new float[(int) array.length()];
      copyOut(array, out, 0);
      return of(out);
    }
    throw new IllegalArgumentException(
        "expected a FLOAT or DOUBLE array, found " + array.dataType());
  }

  public int length() {
    return floats != null ? floats.length : doubles.length;
  }

  public DataType dataType() {
    return floats != null ? DataType.FLOAT : DataType.DOUBLE;
  }

  /** A new rank-1 ND4J array holding a copy of the values. */
  public INDArray toINDArray() {
    INDArray out = Nd4j.create(dataType(), length());
    copyTo(out);
    return out;
  }

  /** Copies the values into {@code target}, which must have the same length. */
  public void copyTo(INDArray target) {
    if (target.length() != length()) {
      throw new IllegalArgumentException(
          "target has " + target.length() + " elements, expected " + length());
    }
    if (length() == 0) {
      return;
    }
    if (floats != null) {
      copyInto(floats, 0, floats.length, target, 0);
    } else if (isDense(target, DataType.DOUBLE)) {
      java.nio.DoubleBuffer b = target.data().asNioDouble();
      b.position((int) target.offset());
      b.put(doubles, 0, doubles.length);
    } else {
      target.assign(Nd4j.createFromArray(doubles));
    }
  }

  /**
   * Copies {@code values[from, from+len)} into {@code target} from element {@code at} on, by bulk
   * copy into the native buffer when the target is dense (creating a large ND4J array from a Java
   * array element by element is about fifty times slower).
   */
  public static void copyInto(float[] values, int from, int len, INDArray target, long at) {
    if (len == 0) {
      return;
    }
    if (isDense(target, DataType.FLOAT)) {
      java.nio.FloatBuffer b = target.data().asNioFloat();
      b.position((int) (target.offset() + at));
      b.put(values, from, len);
    } else {
      target
          .reshape(target.length())
          .get(org.nd4j.linalg.indexing.NDArrayIndex.interval(at, at + len))
          .assign(Nd4j.createFromArray(java.util.Arrays.copyOfRange(values, from, from + len)));
    }
  }

  /** Copies {@code source}'s values into {@code out[at...]}, by bulk copy when it is dense. */
  public static void copyOut(INDArray source, float[] out, int at) {
    if (isDense(source, DataType.FLOAT)) {
      java.nio.FloatBuffer b = source.data().asNioFloat();
      b.position((int) source.offset());
      b.get(out, at, (int) source.length());
    } else {
      float[] v = source.toFloatVector();
      System.arraycopy(v, 0, out, at, v.length);
    }
  }

  /**
   * The native memory of a dense float32 vector as a buffer whose index i is the vector's element i
   * (a view: writes to it are writes to the vector), or null when the vector is not dense float32
   * (then {@link #copyOut} and {@link #copyInto} take their slow path). Bulk gets and puts on it
   * are the copies {@link #copyOut} and {@link #copyInto} make, range by range.
   */
  public static java.nio.FloatBuffer nativeView(INDArray a) {
    if (!isDense(a, DataType.FLOAT)) {
      return null;
    }
    java.nio.FloatBuffer b = a.data().asNioFloat();
    b.limit((int) (a.offset() + a.length()));
    b.position((int) a.offset());
    return b.slice();
  }

  /** A vector whose elements lie contiguously in its buffer from its offset on. */
  private static boolean isDense(INDArray a, DataType type) {
    return a.dataType() == type
        && a.length() > 0
        && (a.rank() == 1 || a.isRowVector())
        && a.elementWiseStride() == 1
        && a.data().length() >= a.offset() + a.length();
  }

  /** {@code this += scale * other}, in place; returns this. */
  public FlatVector addScaled(FlatVector other, double scale) {
    requireSameShape(other);
    if (floats != null) {
      float s = (float) scale;
      for (int i = 0; i < floats.length; i++) {
        floats[i] += s * other.floats[i];
      }
    } else {
      for (int i = 0; i < doubles.length; i++) {
        doubles[i] += scale * other.doubles[i];
      }
    }
    return this;
  }

  /** {@code this *= scale}, in place; returns this. */
  public FlatVector scale(double scale) {
    if (floats != null) {
      float s = (float) scale;
      for (int i = 0; i < floats.length; i++) {
        floats[i] *= s;
      }
    } else {
      for (int i = 0; i < doubles.length; i++) {
        doubles[i] *= scale;
      }
    }
    return this;
  }

  /** A new float array with the values (converted from float64 if needed). */
  public float[] toFloatArray() {
    if (floats != null) {
      return floats.clone();
    }
    float[] out = new float[doubles.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) doubles[i];
    }
    return out;
  }

  /**
   * Puts the values {@code [from, from + len)} of a float32 vector into {@code out}: a bulk copy of
   * their raw bits (NaN payloads included) straight from the vector, with no copy of the whole
   * vector first ({@link #toFloatArray} clones it).
   */
  public void putFloats(int from, int len, java.nio.FloatBuffer out) {
    if (floats == null) {
      throw new IllegalStateException("expected a FLOAT vector, found " + dataType());
    }
    out.put(floats, from, len);
  }

  /**
   * Whether {@code other} holds exactly these bits: the same type and length and, value by value,
   * the same raw IEEE bits ({@link #equals} takes NaNs with different payloads for equal, this does
   * not).
   */
  public boolean sameBits(FlatVector other) {
    if (other == this) {
      return true;
    }
    if (other == null || dataType() != other.dataType() || length() != other.length()) {
      return false;
    }
    if (floats != null) {
      float[] a = floats;
      float[] b = other.floats;
      for (int i = 0; i < a.length; i++) {
        if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
          return false;
        }
      }
    } else {
      double[] a = doubles;
      double[] b = other.doubles;
      for (int i = 0; i < a.length; i++) {
        if (Double.doubleToRawLongBits(a[i]) != Double.doubleToRawLongBits(b[i])) {
          return false;
        }
      }
    }
    return true;
  }

  public double get(int i) {
    return floats != null ? floats[i] : doubles[i];
  }

  public FlatVector copy() {
    return floats != null ? of(floats.clone()) : of(doubles.clone());
  }

  private void requireSameShape(FlatVector other) {
    if (other.length() != length() || other.dataType() != dataType()) {
      throw new IllegalArgumentException(
          "vector shape mismatch: expected "
              + length()
              + " x "
              + dataType()
              + ", found "
              + other.length()
              + " x "
              + other.dataType());
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FlatVector v
        && Arrays.equals(floats, v.floats)
        && Arrays.equals(doubles, v.doubles);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(floats) + Arrays.hashCode(doubles);
  }
}
