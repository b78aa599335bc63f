package io.spindle.driver.cli;

import io.spindle.config.ConfigException;
import io.spindle.driver.score.AtomicOutput;
import io.spindle.driver.score.Scoring;
import io.spindle.driver.score.ScoringInput;
import io.spindle.driver.score.ScoringSession;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;

/**
 * {@code spindle predict}: scores a data set with a trained model on Spark and writes one row per
 * example (its id, label if known, prediction and class probabilities), atomically.
 */
final class PredictCommand {
  static final String USAGE =
      """
      Usage: spindle predict --model RUN_DIR|model.zip --input URI --output URI
                             [--format parquet|csv] [--input-format FORMAT]
                             [--features-col NAME] [--label-col NAME] [--batch-size N]
                             [--partitions N] [--set key=value ...] [--overwrite]

      Scores every example of --input with the model and writes one row per example:
        id           row position in the input (tables, IDX, CIFAR), or
        path         the image file (image folders), with index, its position in file order
        label        the input's label, when it has one
        prediction   the class (or the value, for a regression model)
        probability  the class probabilities (CSV: columns p_0, p_1, ...)
      The output is written into a hidden temporary directory beside --output and renamed when
      complete, so a reader never sees half a result; an existing --output is refused unless
      --overwrite. Prints the examples scored per second.

      Options:
        --model         a run directory of 'spindle train' (config.yaml tells how to decode the
                        input as training did) or a model.zip; local path or Hadoop URI
        --input         a table (Parquet/CSV/ORC/JSON path, or a catalog table name), an IDX
                        images file or folder (MNIST layout; t10k-* preferred), CIFAR .bin files
                        or their folder, or an image folder (class subfolders, or images)
        --output        the result directory (local path or Hadoop URI)
        --format        parquet (default) or csv
        --input-format  parquet|csv|orc|json|table|idx|cifar10|cifar100|image_folder
                        (default: guessed from the input)
        --features-col  the feature column of a table (default: the run's data.featureColumn)
        --label-col     the label column of a table, if any (default: the run's data.labelColumn)
        --batch-size    examples per forward pass (default 4096 for dense networks, else 256)
        --partitions    input partitions (default: Spark's default parallelism)
        --set key=value override a key of the run's config (cluster.master, data.imageSize, ...)
        --overwrite     replace an existing --output
      """;

  private PredictCommand() {}

  static int run(String[] args, PrintStream out) {
    CommandOptions o =
        CommandOptions.parse(
            "predict",
            args,
            List.of("--set", "--output"),
            List.of(
                "--model",
                "--input",
                "--format",
                "--input-format",
                "--features-col",
                "--label-col",
                "--batch-size",
                "--partitions"),
            List.of("--overwrite"));
    if (o.help()) {
      out.print(USAGE);
      return ExitCode.SUCCESS.code();
    }
    String model = o.required("--model");
    String input = o.required("--input");
    String output = o.requiredOutput();
    String format = o.extra("--format") == null ? "parquet" : o.extra("--format");
    if (!List.of("parquet", "csv").contains(format)) {
      throw new ConfigException("--format must be parquet or csv, got '" + format + "'");
    }
    CommandLog.attach("predict", model, null, args);
    try (ScoringSession session = ScoringSession.open(model, overrides(o), "spindle predict")) {
      int batch = o.positiveInt("--batch-size", session.model().network().suggestedBatch());
      int partitions = o.positiveInt("--partitions", session.sc().defaultParallelism());
      String inputFormat = o.extra("--input-format") == null ? "" : o.extra("--input-format");
      ScoringInput in = session.read(input, inputFormat, partitions);
      Written w = scoreAndWrite(session, in, batch, format, output, o.flag("--overwrite"));
      out.printf(
          Locale.ROOT,
          "spindle: scored %d examples in %.2f s (%.0f examples/s)%s; wrote %s%n",
          w.examples(),
          w.seconds(),
          w.examples() / w.seconds(),
          in.labelled() && !session.model().regression()
              ? String.format(Locale.ROOT, ", accuracy %.4f", (double) w.correct() / w.examples())
              : "",
          w.output());
    }
    return ExitCode.SUCCESS.code();
  }

  /** What a scoring job wrote: examples, correct predictions (if labelled), seconds, where. */
  record Written(long examples, long correct, double seconds, String output) {}

  /**
   * Scores {@code in} and writes one row per example to {@code output} atomically; the seconds
   * cover the scoring job (read, decode, forward, write).
   */
  static Written scoreAndWrite(
      ScoringSession session,
      ScoringInput in,
      int batch,
      String format,
      String output,
      boolean overwrite) {
    long start = System.nanoTime();
    Scoring.Result result = Scoring.score(session.sc(), in, session.model().network(), batch);
    boolean regression = session.model().regression();
    int classes = session.model().network().numOutputs();
    LongAccumulator count = session.sc().sc().longAccumulator("examples scored");
    LongAccumulator correct = session.sc().sc().longAccumulator("correct predictions");
    boolean csv = format.equals("csv");
    boolean labelled = in.labelled();
    boolean paths = in.pathIds();
    StructType schema = schema(paths, labelled, regression, csv, classes);
    int width = schema.size();
    JavaRDD<Row> rows =
        result
            .scored()
            .map(
                s -> {
                  count.add(1);
                  Object[] v = new Object[width];
                  int c = 0;
                  if (paths) {
                    v[c++] = s.path();
                  }
                  v[c++] = s.index();
                  if (labelled) {
                    v[c++] = s.label();
                  }
                  float[] o = s.output();
                  if (regression) {
                    v[c] = (double) o[0];
                  } else {
                    int p = s.argMax();
                    if (labelled && p == s.label()) {
                      correct.add(1);
                    }
                    v[c++] = (double) p;
                    if (csv) {
                      for (float f : o) {
                        v[c++] = (double) f;
                      }
                    } else {
                      double[] probs = new double[o.length];
                      for (int i = 0; i < probs.length; i++) {
                        probs[i] = o[i];
                      }
                      v[c] = probs;
                    }
                  }
                  return RowFactory.create(v);
                });
    SparkSession spark = SparkSession.builder().sparkContext(session.sc().sc()).getOrCreate();
    Dataset<Row> df = spark.createDataFrame(rows, schema);
    session.sc().setJobDescription("spindle predict: score " + in.description());
    String written =
        AtomicOutput.write(
            output,
            overwrite,
            session.sc().hadoopConfiguration(),
            // No dictionary encoding: ids and probabilities are (nearly) all distinct, so
            // Parquet would build a dictionary per column chunk only to fall back from it.
            tmp ->
                df.write()
                    .format(format)
                    .option("header", "true")
                    .option("parquet.enable.dictionary", "false")
                    .save(tmp));
    double seconds = (System.nanoTime() - start) / 1e9;
    result.broadcast().destroy();
    return new Written(count.value(), correct.value(), seconds, written);
  }

  /** The run config's overrides: --set, then the column options. */
  static List<String> overrides(CommandOptions o) {
    List<String> sets = new ArrayList<>(o.overrides());
    if (o.extra("--features-col") != null) {
      sets.add("data.featureColumn=" + o.extra("--features-col"));
    }
    if (o.extra("--label-col") != null) {
      sets.add("data.labelColumn=" + o.extra("--label-col"));
    }
    return sets;
  }

  static StructType schema(
      boolean paths, boolean labelled, boolean regression, boolean csv, int classes) {
    StructType s = new StructType();
    if (paths) {
      s = s.add("path", DataTypes.StringType, false).add("index", DataTypes.LongType, false);
    } else {
      s = s.add("id", DataTypes.LongType, false);
    }
    if (labelled) {
      s = s.add("label", DataTypes.DoubleType, false);
    }
    s = s.add("prediction", DataTypes.DoubleType, false);
    if (!regression) {
      if (csv) {
        for (int i = 0; i < classes; i++) {
          s = s.add("p_" + i, DataTypes.DoubleType, false);
        }
      } else {
        s = s.add("probability", DataTypes.createArrayType(DataTypes.DoubleType, false), false);
      }
    }
    return s;
  }
}
