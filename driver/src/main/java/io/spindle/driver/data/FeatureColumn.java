package io.spindle.driver.data;

import io.spindle.data.DataFormatException;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.UserDefinedType;

/**
 * A feature column of a Spark table: an {@code ml.linalg} Vector (its user-defined type), the
 * Vector's storage struct ({@code type, size, indices, values}, what a Parquet file written with
 * Vectors holds when read without Spark ML), or an array of numbers. Errors name the table or
 * column, the row and what was expected.
 */
public final class FeatureColumn {
  private FeatureColumn() {}

  /**
   * Fails, naming the column and the table's columns, unless {@code column} is a feature column.
   */
  public static void check(StructType schema, String column, String where) {
    if (!Arrays.asList(schema.fieldNames()).contains(column)) {
      throw new DataFormatException(
          where
              + ": missing column '"
              + column
              + "'; the table has "
              + Arrays.toString(schema.fieldNames()));
    }
    DataType type = schema.apply(column).dataType();
    boolean ok =
        type instanceof UserDefinedType
            || type instanceof StructType
            || (type instanceof ArrayType a && a.elementType() instanceof NumericType);
    if (!ok) {
      throw new DataFormatException(
          where
              + ": feature column '"
              + column
              + "' must be a vector or an array of numbers, found "
              + type.simpleString());
    }
  }

  /** The features held by {@code value}, a cell of a feature column; NaN and nulls are refused. */
  public static float[] features(Object value, String where, String column, long row) {
    if (value == null) {
      throw new DataFormatException(where + " row " + row + ": '" + column + "' is null");
    }
    float[] x = values(value, where, column, row);
    for (int i = 0; i < x.length; i++) {
      if (!Float.isFinite(x[i])) {
        throw new DataFormatException(
            where + " row " + row + ": feature " + i + " of '" + column + "' is " + x[i]);
      }
    }
    return x;
  }

  private static float[] values(Object v, String where, String column, long row) {
    if (v instanceof Vector vec) {
      return toFloats(vec.toArray());
    }
    if (v instanceof scala.collection.Seq<?> seq) {
      float[] x = new float[seq.size()];
      for (int i = 0; i < x.length; i++) {
        Object o = seq.apply(i);
        x[i] = o == null ? Float.NaN : ((Number) o).floatValue();
      }
      return x;
    }
    if (v instanceof Row s) {
      // the storage of ml.linalg Vector: type (0 sparse, 1 dense), size, indices, values
      int kind = ((Number) s.get(s.fieldIndex("type"))).intValue();
      List<Object> values = s.getList(s.fieldIndex("values"));
      if (kind == 1) {
        float[] x = new float[values.size()];
        for (int i = 0; i < x.length; i++) {
          x[i] = ((Number) values.get(i)).floatValue();
        }
        return x;
      }
      int size = s.getInt(s.fieldIndex("size"));
      List<Object> indices = s.getList(s.fieldIndex("indices"));
      float[] x = new float[size];
      for (int i = 0; i < indices.size(); i++) {
        x[((Number) indices.get(i)).intValue()] = ((Number) values.get(i)).floatValue();
      }
      return x;
    }
    throw new DataFormatException(
        where + " row " + row + ": cannot read '" + column + "' value of " + v.getClass());
  }

  private static float[] toFloats(double[] d) {
    float[] x = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      x[i] = (float) d[i];
    }
    return x;
  }
}
