package io.spindle.driver.cli;

import io.spindle.config.ConfigException;
import io.spindle.config.LayerConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.cluster.SparkContexts;
import io.spindle.driver.score.AtomicOutput;
import io.spindle.driver.score.Scoring;
import io.spindle.driver.score.ScoringInput;
import io.spindle.driver.score.ScoringSession;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
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
    try (ScoringSession session =
        ScoringSession.open(
            model, overrides(o), "spindle predict", (sc, config) -> warmUp(sc, config, format))) {
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

  /**
   * A head start for the scoring job's write, taken while the network loads: writes one made-up row
   * with the usual columns to a local temporary directory (deleted at once). This loads and
   * initialises what a JVM's first Spark SQL write needs (the SQL session, analysis, Janino code
   * generation, the Parquet or CSV writer and its codec: ~3-4 s in a fresh process, against the
   * ~0.2 s of forward passes over 10,000 images), so the scoring job pays it no more. Local mode
   * only (there the executors share this JVM); a failure is ignored, the real write reports real
   * problems.
   */
  static void warmUp(JavaSparkContext sc, SpindleConfig config, String format) {
    if (!SparkContexts.isLocal(sc.getConf())) {
      return;
    }
    java.nio.file.Path dir = null;
    try {
      dir = Files.createTempDirectory("spindle-warmup-");
      boolean csv = format.equals("csv");
      List<LayerConfig> layers = config.model().layers();
      int classes = Math.max(2, layers.isEmpty() ? 2 : layers.get(layers.size() - 1).units());
      StructType schema = schema(false, true, false, csv, classes);
      Object[] v = new Object[schema.size()];
      v[0] = 0L;
      v[1] = 0.0;
      v[2] = 0.0;
      if (csv) {
        for (int i = 0; i < classes; i++) {
          v[3 + i] = 1.0 / classes;
        }
      } else {
        v[3] = new double[classes];
      }
      sc.setJobDescription("spindle predict: warm up the writer (one made-up row, local temp dir)");
      SparkSession spark = SparkSession.builder().sparkContext(sc.sc()).getOrCreate();
      spark
          .createDataFrame(sc.parallelize(List.of(RowFactory.create(v)), 1), schema)
          .write()
          .format(format)
          .option("header", "true")
          .option("parquet.enable.dictionary", "false")
          .save(dir.resolve("out").toUri().toString());
    } catch (IOException | RuntimeException e) {
      // only a head start: the scoring job's own write reports any real problem
    } finally {
      sc.setJobDescription(null);
      if (dir != null) {
        deleteQuietly(dir);
      }
    }
  }

  private static void deleteQuietly(java.nio.file.Path dir) {
    try (Stream<java.nio.file.Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a temporary directory: the system cleans it if this cannot
    }
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
