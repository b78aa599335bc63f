package io.spindle.driver.score;

import io.spindle.config.ConfigException;
import io.spindle.config.DataConfig;
import io.spindle.data.ArchiveSpec;
import io.spindle.data.CifarFormat;
import io.spindle.data.DataFormatException;
import io.spindle.data.Example;
import io.spindle.data.IdxReader;
import io.spindle.data.IdxRecordStream;
import io.spindle.data.ImageTransform;
import io.spindle.data.InputSplit;
import io.spindle.data.ReadOptions;
import io.spindle.driver.data.DatasetLoader;
import io.spindle.driver.data.FeatureColumn;
import io.spindle.worker.SplitReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.NumericType;

/**
 * What {@code predict} and {@code evaluate} score: the examples of a table (Parquet, CSV, ORC,
 * JSON, a catalog table), an IDX file pair, CIFAR binaries or an image folder, read on the
 * executors (the readers of {@code io.spindle.driver.data} and {@code io.spindle.worker}), each
 * with its id: the row position in the table or file, or the image's path.
 *
 * <p>Decoding follows the run's {@link DataConfig}: the table's feature and label columns, CIFAR's
 * fine or coarse labels, the images' test-time transform (resize, centre crop, normalisation). A
 * label is optional: an unlabelled table or image folder scores, but cannot be evaluated.
 *
 * @param items the examples, in input order within each partition
 * @param description the input, for messages
 * @param labelled whether the items carry labels
 * @param pathIds whether the ids are file paths (images) rather than positions
 * @param table whether the input is a table (its features one column)
 */
public record ScoringInput(
    JavaRDD<Item> items, String description, boolean labelled, boolean pathIds, boolean table) {

  /** Formats {@code --input-format} accepts. */
  public static final List<String> FORMATS =
      List.of(
          "parquet", "csv", "orc", "json", "table", "idx", "cifar10", "cifar100", "image_folder");

  /** One example to score. A plain class, not a record: Spark's Kryo cannot rebuild records. */
  public static final class Item implements Serializable {
    private static final long serialVersionUID = 1L;
    final long index;
    final String path;
    final float[] features;
    final double label;

    Item(long index, String path, float[] features, double label) {
      this.index = index;
      this.path = path;
      this.features = features;
      this.label = label;
    }

    public long index() {
      return index;
    }

    /** The image file, or null. */
    public String path() {
      return path;
    }

    public float[] features() {
      return features;
    }

    /** The class index or target; NaN when unlabelled. */
    public double label() {
      return label;
    }
  }

  /**
   * Reads {@code uri} as {@code format} (empty: guessed from the path); {@code data} gives the
   * decoding; {@code numClasses} bounds labels (0: a regressor's targets).
   */
  public static ScoringInput read(
      JavaSparkContext sc,
      String uri,
      String format,
      DataConfig data,
      int numClasses,
      int partitions) {
    Map<String, String> hadoop = DatasetLoader.hadoopSettings(sc, data);
    Configuration conf = new Configuration(sc.hadoopConfiguration());
    hadoop.forEach(conf::set);
    String f = format.isEmpty() ? guessFormat(uri, conf, data) : format;
    if (!FORMATS.contains(f)) {
      throw new ConfigException("--input-format must be one of " + FORMATS + ", got '" + f + "'");
    }
    return switch (f) {
      case "idx" -> idx(sc, uri, conf, hadoop, partitions);
      case "cifar10", "cifar100" -> cifar(sc, uri, f, conf, hadoop, data, partitions);
      case "image_folder" -> images(sc, uri, conf, hadoop, data, partitions);
      default -> table(sc, uri, f, data, numClasses);
    };
  }

  /** The format of {@code uri} from its name and content. */
  static String guessFormat(String uri, Configuration conf, DataConfig data) {
    String name = new Path(uri).getName().toLowerCase(Locale.ROOT);
    for (String ext : List.of("parquet", "csv", "orc", "json")) {
      if (name.endsWith("." + ext)) {
        return ext;
      }
    }
    if (name.contains("idx3-ubyte")) {
      return "idx";
    }
    if (name.endsWith(".bin")) {
      return data.effectiveFormat().equals("cifar100") ? "cifar100" : "cifar10";
    }
    FileStatus[] entries = list(conf, uri);
    for (FileStatus s : entries) {
      String n = s.getPath().getName();
      if (n.contains("idx3-ubyte")) {
        return "idx";
      }
      if (n.endsWith(".bin")) {
        return data.effectiveFormat().equals("cifar100") ? "cifar100" : "cifar10";
      }
      if (n.endsWith(".parquet")) {
        return "parquet";
      }
    }
    for (FileStatus s : entries) {
      String n = s.getPath().getName().toLowerCase(Locale.ROOT);
      if (s.isDirectory() || n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg")) {
        return "image_folder";
      }
    }
    throw new ConfigException(
        "--input "
            + uri
            + ": cannot tell its format; give --input-format (one of "
            + FORMATS
            + ")");
  }

  // ---- tables ----

  private static ScoringInput table(
      JavaSparkContext sc, String uri, String format, DataConfig data, int numClasses) {
    SparkSession spark = SparkSession.builder().sparkContext(sc.sc()).getOrCreate();
    Dataset<Row> df;
    try {
      df =
          switch (format) {
            case "table" -> spark.table(uri);
            case "csv" ->
                spark.read().option("header", "true").option("inferSchema", "true").csv(uri);
            default -> spark.read().format(format).load(uri);
          };
    } catch (Exception e) {
      throw new DataFormatException(uri + ": cannot read as " + format + ": " + e.getMessage(), e);
    }
    String featureCol = data.featureColumn();
    String labelCol = data.labelColumn();
    FeatureColumn.check(df.schema(), featureCol, uri);
    boolean labelled = Arrays.asList(df.schema().fieldNames()).contains(labelCol);
    if (labelled && !(df.schema().apply(labelCol).dataType() instanceof NumericType)) {
      DataType t = df.schema().apply(labelCol).dataType();
      throw new DataFormatException(
          uri + ": label column '" + labelCol + "' must be numeric, found " + t.simpleString());
    }
    Dataset<Row> cols =
        labelled
            ? df.select(
                org.apache.spark.sql.functions.col(featureCol),
                org.apache.spark.sql.functions.col(labelCol))
            : df.select(org.apache.spark.sql.functions.col(featureCol));
    JavaRDD<Item> items =
        cols.javaRDD()
            .zipWithIndex()
            .map(
                t -> {
                  Row r = t._1();
                  long row = t._2();
                  float[] x = FeatureColumn.features(r.get(0), uri, featureCol, row);
                  double label = Double.NaN;
                  if (labelled) {
                    if (r.isNullAt(1)) {
                      throw new DataFormatException(
                          uri + " row " + row + ": label column '" + labelCol + "' is null");
                    }
                    label = ((Number) r.get(1)).doubleValue();
                    checkLabel(label, numClasses, uri + " row " + row);
                  }
                  return new Item(row, null, x, label);
                });
    return new ScoringInput(items, uri, labelled, false, true);
  }

  static void checkLabel(double label, int numClasses, String where) {
    if (numClasses > 0 && (label != Math.rint(label) || label < 0 || label >= numClasses)) {
      throw new DataFormatException(
          where + ": label " + label + " is not a class index in [0, " + numClasses + ")");
    }
  }

  // ---- IDX ----

  private static ScoringInput idx(
      JavaSparkContext sc,
      String uri,
      Configuration conf,
      Map<String, String> hadoop,
      int partitions) {
    String images = uri;
    if (isDirectory(conf, uri)) {
      images = null;
      List<String> names = new ArrayList<>();
      for (FileStatus s : list(conf, uri)) {
        names.add(s.getPath().getName());
      }
      for (String preferred : List.of("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte")) {
        if (names.contains(preferred)) {
          images = child(uri, preferred);
        }
      }
      if (images == null) {
        List<String> idx = names.stream().filter(n -> n.contains("images-idx3-ubyte")).toList();
        if (idx.size() != 1) {
          throw new DataFormatException(
              uri + ": expected one IDX images file (*images-idx3-ubyte[.gz]), found " + idx);
        }
        images = child(uri, idx.get(0));
      }
    }
    String labels = images.replace("images-idx3-ubyte", "labels-idx1-ubyte");
    if (labels.equals(images) || !exists(conf, labels)) {
      throw new DataFormatException(
          images + ": expected its labels file " + labels + " beside it (IDX comes in pairs)");
    }
    int count;
    try (InputStream in = open(conf, images)) {
      count = new IdxRecordStream(images, in, IdxReader.IMAGES_MAGIC).count();
    } catch (IOException e) {
      throw new DataFormatException("cannot read " + images + ": " + e, e);
    }
    List<InputSplit> splits = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      int from = (int) ((long) p * count / partitions);
      int to = (int) ((long) (p + 1) * count / partitions);
      splits.add(InputSplit.idx(images, labels, from, to));
    }
    ReadOptions options = new ReadOptions(256, null, false, null, false);
    return new ScoringInput(examples(sc, splits, options, hadoop), images, true, false, false);
  }

  // ---- CIFAR ----

  private static ScoringInput cifar(
      JavaSparkContext sc,
      String uri,
      String format,
      Configuration conf,
      Map<String, String> hadoop,
      DataConfig data,
      int partitions) {
    ArchiveSpec spec = ArchiveSpec.named(format);
    CifarFormat layout = spec.format();
    List<String> files = new ArrayList<>();
    if (isDirectory(conf, uri)) {
      List<String> names = new ArrayList<>();
      for (FileStatus s : list(conf, uri)) {
        if (s.isFile() && s.getPath().getName().endsWith(".bin")) {
          names.add(s.getPath().getName());
        }
      }
      names.sort(null);
      List<String> test =
          spec.test().stream().map(m -> m.substring(m.lastIndexOf('/') + 1)).toList();
      List<String> wanted = names.stream().filter(test::contains).toList();
      for (String n : wanted.isEmpty() ? names : wanted) {
        files.add(child(uri, n));
      }
      if (files.isEmpty()) {
        throw new DataFormatException(uri + ": expected CIFAR binary files (*.bin), found none");
      }
    } else {
      files.add(uri);
    }
    List<Long> records = new ArrayList<>();
    long total = 0;
    for (String f : files) {
      long r = layout.records(f, size(conf, f));
      records.add(r);
      total += r;
    }
    List<InputSplit> splits = new ArrayList<>();
    long first = 0;
    for (int i = 0; i < files.size(); i++) {
      long n = records.get(i);
      int parts = (int) Math.max(1, Math.min(partitions, n));
      for (int p = 0; p < parts; p++) {
        long from = p * n / parts;
        long to = (p + 1) * n / parts;
        splits.add(InputSplit.cifarBin(files.get(i), from, to, (int) (first + from)));
      }
      first += n;
    }
    boolean coarse = data.cifarLabels().equals("coarse");
    ReadOptions options = new ReadOptions(layout.numClasses(coarse), layout, coarse, null, false);
    return new ScoringInput(
        examples(sc, splits, options, hadoop), String.join(", ", files), true, false, false);
  }

  // ---- image folders ----

  private static ScoringInput images(
      JavaSparkContext sc,
      String uri,
      Configuration conf,
      Map<String, String> hadoop,
      DataConfig data,
      int partitions) {
    List<String> classes = new ArrayList<>();
    List<String> uris = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    for (FileStatus s : list(conf, uri)) {
      if (s.isDirectory()) {
        classes.add(s.getPath().getName());
      }
    }
    classes.sort(null);
    if (classes.isEmpty()) {
      addImages(conf, uri, -1, uris, labels);
    } else {
      for (int c = 0; c < classes.size(); c++) {
        addImages(conf, child(uri, classes.get(c)), c, uris, labels);
      }
    }
    if (uris.isEmpty()) {
      throw new DataFormatException(uri + ": expected .jpg/.jpeg/.png images, found none");
    }
    float[] mean = floats(data.mean());
    float[] std = floats(data.std());
    ImageTransform transform =
        new ImageTransform(data.imageSize(), data.imageResize(), false, false, mean, std, 0L);
    List<InputSplit> splits = new ArrayList<>();
    int n = uris.size();
    int parts = Math.max(1, Math.min(partitions, n));
    for (int p = 0; p < parts; p++) {
      int from = (int) ((long) p * n / parts);
      int to = (int) ((long) (p + 1) * n / parts);
      int[] l = new int[to - from];
      for (int i = from; i < to; i++) {
        l[i - from] = Math.max(0, labels.get(i));
      }
      splits.add(InputSplit.images(new ArrayList<>(uris.subList(from, to)), l, from));
    }
    boolean labelled = !classes.isEmpty();
    ReadOptions options =
        new ReadOptions(Math.max(1, classes.size()), null, false, transform, false);
    JavaRDD<Item> items =
        sc.parallelize(splits, splits.size())
            .flatMap(
                split -> {
                  Iterator<Example> it = SplitReader.read(split, options, hadoop);
                  return new Iterator<Item>() {
                    @Override
                    public boolean hasNext() {
                      return it.hasNext();
                    }

                    @Override
                    public Item next() {
                      Example e = it.next();
                      float[] x = new float[e.numFeatures()];
                      e.copyFeatures(x, 0);
                      int k = e.index() - split.firstIndex();
                      return new Item(
                          e.index(), split.uri(k), x, labelled ? e.label() : Double.NaN);
                    }
                  };
                });
    return new ScoringInput(items, uri, labelled, true, false);
  }

  private static void addImages(
      Configuration conf, String dir, int label, List<String> uris, List<Integer> labels) {
    List<FileStatus> files = new ArrayList<>(Arrays.asList(list(conf, dir)));
    files.sort((a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
    for (FileStatus f : files) {
      String n = f.getPath().getName().toLowerCase(Locale.ROOT);
      if (f.isFile() && (n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png"))) {
        uris.add(f.getPath().toString());
        labels.add(label);
      }
    }
  }

  // ---- helpers ----

  /** Reads IDX or CIFAR splits on the executors; one partition per split. */
  private static JavaRDD<Item> examples(
      JavaSparkContext sc,
      List<InputSplit> splits,
      ReadOptions options,
      Map<String, String> hadoop) {
    return sc.parallelize(splits, splits.size())
        .flatMap(
            split -> {
              Iterator<Example> it = SplitReader.read(split, options, hadoop);
              return new Iterator<Item>() {
                @Override
                public boolean hasNext() {
                  return it.hasNext();
                }

                @Override
                public Item next() {
                  Example e = it.next();
                  float[] x = new float[e.numFeatures()];
                  e.copyFeatures(x, 0);
                  return new Item(e.index(), null, x, e.label());
                }
              };
            });
  }

  private static float[] floats(List<Double> values) {
    float[] out = new float[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i).floatValue();
    }
    return out;
  }

  private static String child(String root, String name) {
    return root.endsWith("/") ? root + name : root + "/" + name;
  }

  private static FileSystem fs(Configuration conf, String uri) throws IOException {
    return new Path(uri).getFileSystem(conf);
  }

  private static boolean isDirectory(Configuration conf, String uri) {
    try {
      return fs(conf, uri).getFileStatus(new Path(uri)).isDirectory();
    } catch (FileNotFoundException e) {
      throw new ConfigException("--input " + uri + ": no such file or folder");
    } catch (IOException e) {
      throw new DataFormatException(uri + ": cannot reach: " + e, e);
    }
  }

  private static boolean exists(Configuration conf, String uri) {
    try {
      return fs(conf, uri).exists(new Path(uri));
    } catch (IOException e) {
      throw new DataFormatException(uri + ": cannot reach: " + e, e);
    }
  }

  private static long size(Configuration conf, String uri) {
    try {
      return fs(conf, uri).getFileStatus(new Path(uri)).getLen();
    } catch (FileNotFoundException e) {
      throw new ConfigException("--input " + uri + ": no such file");
    } catch (IOException e) {
      throw new DataFormatException(uri + ": cannot reach: " + e, e);
    }
  }

  private static InputStream open(Configuration conf, String uri) throws IOException {
    try {
      return fs(conf, uri).open(new Path(uri));
    } catch (FileNotFoundException e) {
      throw new ConfigException("--input " + uri + ": no such file");
    }
  }

  private static FileStatus[] list(Configuration conf, String uri) {
    try {
      return fs(conf, uri).listStatus(new Path(uri));
    } catch (FileNotFoundException e) {
      throw new ConfigException("--input " + uri + ": no such file or folder");
    } catch (IOException e) {
      throw new DataFormatException(uri + ": cannot reach: " + e, e);
    }
  }
}
