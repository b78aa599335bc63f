package io.spindle.driver.data;

import io.spindle.config.DataConfig;
import io.spindle.data.DataFormatException;
import io.spindle.data.Example;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.UserDefinedType;

/**
 * A Spark table as a data set: a feature column and a label column, from Parquet, CSV, ORC, JSON or
 * a catalog table. The feature column is an array of numbers, an {@code ml.linalg} Vector (through
 * its user-defined type, when Spark MLlib is on the classpath), or the Vector's storage struct
 * ({@code type, size, indices, values}), which is what a Parquet file written with Vectors holds.
 * For classification the label is a class index; for regression the label is the target. Rows are
 * numbered in the table's order; a null or non-finite feature or label, a label that is not a class
 * index in range, or a feature vector of the wrong length is an error naming the table and row, or
 * is skipped with {@code data.skipBadRecords}.
 */
final class TableSource {
  private TableSource() {}

  static DatasetLoader.Source read(JavaSparkContext sc, DataConfig config, int partitions) {
    SparkSession spark = SparkSession.builder().sparkContext(sc.sc()).getOrCreate();
    Dataset<Row> train = load(spark, config, config.path());
    Dataset<Row> test = load(spark, config, config.testPath());
    boolean regression = config.task().equals("regression");
    int numClasses = regression ? 1 : config.numClasses();
    if (!regression && numClasses == 0) {
      Object max =
          train.agg(org.apache.spark.sql.functions.max(config.labelColumn())).first().get(0);
      if (max == null) {
        throw new DataFormatException(
            config.path() + ": column " + config.labelColumn() + " is empty");
      }
      numClasses = (int) Math.floor(((Number) max).doubleValue()) + 1;
    }
    int classes = numClasses;
    return new DatasetLoader.Source(
        examples(train, config, config.path(), regression, classes, partitions),
        examples(test, config, config.testPath(), regression, classes, partitions),
        train.count(),
        test.count(),
        numClasses);
  }

  private static Dataset<Row> load(SparkSession spark, DataConfig config, String where) {
    Dataset<Row> df;
    try {
      df =
          switch (config.tableFormat()) {
            case "table" -> spark.table(where);
            case "csv" ->
                spark.read().option("header", "true").option("inferSchema", "true").csv(where);
            default -> spark.read().format(config.tableFormat()).load(where);
          };
    } catch (Exception e) {
      throw new DataFormatException(
          where + ": cannot read as " + config.tableFormat() + ": " + e.getMessage(), e);
    }
    StructType schema = df.schema();
    for (String col : List.of(config.featureColumn(), config.labelColumn())) {
      if (!Arrays.asList(schema.fieldNames()).contains(col)) {
        throw new DataFormatException(
            where
                + ": missing column '"
                + col
                + "'; the table has "
                + Arrays.toString(schema.fieldNames()));
      }
    }
    DataType label = schema.apply(config.labelColumn()).dataType();
    if (!(label instanceof NumericType)) {
      throw new DataFormatException(
          where + ": label column '" + config.labelColumn() + "' must be numeric, found " + label);
    }
    return df.select(
        org.apache.spark.sql.functions.col(config.featureColumn()),
        org.apache.spark.sql.functions.col(config.labelColumn()),
        org.apache.spark.sql.functions.input_file_name());
  }

  private static JavaRDD<Example> examples(
      Dataset<Row> df,
      DataConfig config,
      String where,
      boolean regression,
      int numClasses,
      int partitions) {
    StructField feature = df.schema().apply(config.featureColumn());
    DataType type = feature.dataType();
    if (!(type instanceof ArrayType
        || type instanceof StructType
        || type instanceof UserDefinedType)) {
      throw new DataFormatException(
          where
              + ": feature column '"
              + config.featureColumn()
              + "' must be a vector or an array of numbers, found "
              + type.simpleString());
    }
    boolean skip = config.skipBadRecords();
    String column = config.featureColumn();
    return df.javaRDD()
        .zipWithIndex()
        .flatMap(
            t -> {
              long row = t._2();
              try {
                return List.of(toExample(t._1(), row, where, column, regression, numClasses))
                    .iterator();
              } catch (DataFormatException e) {
                if (skip) {
                  return java.util.Collections.<Example>emptyIterator();
                }
                throw e;
              }
            });
  }

  static Example toExample(
      Row r, long row, String table, String column, boolean regression, int numClasses) {
    String file = r.size() > 2 ? r.getString(2) : null;
    String where = file == null || file.isEmpty() ? table : table + " (file " + file + ")";
    Object v = r.get(0);
    if (v == null || r.isNullAt(1)) {
      throw new DataFormatException(where + " row " + row + ": null feature or label");
    }
    float[] x = FeatureColumn.features(v, where, column, row);
    double label = ((Number) r.get(1)).doubleValue();
    if (!Double.isFinite(label)) {
      throw new DataFormatException(where + " row " + row + ": label is " + label);
    }
    if (regression) {
      return new Example((int) row, x, 0, (float) label, 1, 1, x.length);
    }
    if (label != Math.rint(label) || label < 0 || label >= numClasses) {
      throw new DataFormatException(
          where
              + " row "
              + row
              + ": label "
              + label
              + " is not a class index in [0, "
              + numClasses
              + ")");
    }
    return new Example((int) row, x, (int) label);
  }
}
