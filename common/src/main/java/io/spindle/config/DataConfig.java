package io.spindle.config;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Where the data comes from and how it is decoded.
 *
 * @param dataset a named data set: mnist, fashion-mnist, cifar10 or cifar100 (downloaded into the
 *     cache unless {@code path} is given), or majority-tokens (generated, see {@code
 *     io.spindle.data.GeneratedSequences}); for image_folder and table formats only a display name
 * @param mirror a folder or URL laid out like the official download site, used instead of it; when
 *     empty the environment variable SPINDLE_DATA_MIRROR is used, and when that is unset too the
 *     official URLs
 * @param cacheDir folder that holds downloaded files; empty means ~/.cache/spindle
 * @param trainLimit use only the first N training examples (0 = all)
 * @param format idx, cifar10, cifar100, image_folder or table; empty = the named data set's format
 * @param path Hadoop URI or local folder of the data in its official layout (file://, hdfs://,
 *     s3a://); table: the training table (a path, or a catalog table name with tableFormat table).
 *     Empty: the named data set from the cache
 * @param testPath table: the test table (required); image_folder: the test folder (default {@code
 *     <path>/val})
 * @param tableFormat parquet, csv, orc, json, or table (a name in Spark's catalog)
 * @param featureColumn table: the feature column (ml.linalg Vector or array of numbers)
 * @param labelColumn table: the label column (class index, or target for regression)
 * @param task classification or regression
 * @param numClasses table classification: classes (0 = largest label + 1)
 * @param cifarLabels cifar100: fine (100 classes) or coarse (20 superclasses)
 * @param imageSize image_folder: side of the square crop fed to the model
 * @param imageResize image_folder: the shorter side is scaled to this before cropping
 * @param crop image_folder: center or random
 * @param flip image_folder: mirror horizontally with probability 1/2
 * @param mean image_folder: per-channel (R, G, B) mean subtracted from pixel/255
 * @param std image_folder: per-channel (R, G, B) standard deviation divided by
 * @param inputPartitions input partitions the files are split into (0 = cluster.workers)
 * @param skipBadRecords drop bad records (reporting how many) instead of stopping the run
 * @param prefetchBatches mini-batches each worker prepares ahead of compute (0 = none)
 * @param hadoop extra Hadoop settings {@code key=value} (e.g. fs.s3a.endpoint=...), on top of
 *     Spark's spark.hadoop.* settings
 * @param augment per-epoch augmentation and normalisation of image data (default: none). With it,
 *     an image_folder keeps its training images as 8-bit pixels, {@code imageResize} square, and
 *     crops them to {@code imageSize} every epoch; {@code crop}, {@code flip}, {@code mean} and
 *     {@code std} above (applied once, when the files are read) must then keep their defaults
 */
public record DataConfig(
    String dataset,
    String mirror,
    String cacheDir,
    int trainLimit,
    String format,
    String path,
    String testPath,
    String tableFormat,
    String featureColumn,
    String labelColumn,
    String task,
    int numClasses,
    String cifarLabels,
    int imageSize,
    int imageResize,
    String crop,
    boolean flip,
    List<Double> mean,
    List<Double> std,
    int inputPartitions,
    boolean skipBadRecords,
    int prefetchBatches,
    List<String> hadoop,
    AugmentConfig augment)
    implements java.io.Serializable {
  public static final Set<String> DATASETS =
      Set.of("mnist", "fashion-mnist", "cifar10", "cifar100", "majority-tokens");
  public static final Set<String> FORMATS =
      Set.of("idx", "cifar10", "cifar100", "image_folder", "table");
  public static final Set<String> TABLE_FORMATS = Set.of("parquet", "csv", "orc", "json", "table");

  /** The MNIST defaults with the given source settings. */
  public DataConfig(String dataset, String mirror, String cacheDir, int trainLimit) {
    this(
        dataset,
        mirror,
        cacheDir,
        trainLimit,
        "",
        "",
        "",
        "parquet",
        "features",
        "label",
        "classification",
        0,
        "fine",
        224,
        256,
        "center",
        false,
        List.of(0.0, 0.0, 0.0),
        List.of(1.0, 1.0, 1.0),
        0,
        false,
        2,
        List.of(),
        AugmentConfig.none());
  }

  public DataConfig {
    Check.notNull("dataset", dataset);
    mirror = mirror == null ? "" : mirror.trim();
    cacheDir = cacheDir == null ? "" : cacheDir.trim();
    format = format == null ? "" : format.trim();
    path = path == null ? "" : path.trim();
    testPath = testPath == null ? "" : testPath.trim();
    tableFormat = tableFormat == null || tableFormat.isBlank() ? "parquet" : tableFormat.trim();
    featureColumn = featureColumn == null || featureColumn.isBlank() ? "features" : featureColumn;
    labelColumn = labelColumn == null || labelColumn.isBlank() ? "label" : labelColumn;
    task = task == null || task.isBlank() ? "classification" : task.trim();
    cifarLabels = cifarLabels == null || cifarLabels.isBlank() ? "fine" : cifarLabels.trim();
    crop = crop == null || crop.isBlank() ? "center" : crop.trim();
    mean = mean == null ? List.of(0.0, 0.0, 0.0) : List.copyOf(mean);
    std = std == null ? List.of(1.0, 1.0, 1.0) : List.copyOf(std);
    hadoop = hadoop == null ? List.of() : List.copyOf(hadoop);
    boolean custom = format.equals("image_folder") || format.equals("table");
    if (!custom && !DATASETS.contains(dataset)) {
      throw new ConfigException(
          "dataset must be one of " + new TreeSet<>(DATASETS) + ", got '" + dataset + "'");
    }
    oneOf("format", format, FORMATS, true);
    if (dataset.equals("majority-tokens") && !format.isEmpty()) {
      throw new ConfigException(
          "format must be empty for the generated data set majority-tokens, got '" + format + "'");
    }
    oneOf("tableFormat", tableFormat, TABLE_FORMATS, false);
    oneOf("task", task, Set.of("classification", "regression"), false);
    oneOf("cifarLabels", cifarLabels, Set.of("fine", "coarse"), false);
    oneOf("crop", crop, Set.of("center", "random"), false);
    if (custom && path.isEmpty()) {
      throw new ConfigException("path must be set for format " + format + ", got ''");
    }
    if (format.equals("table") && testPath.isEmpty()) {
      throw new ConfigException("testPath must be set for format table, got ''");
    }
    if (task.equals("regression") && !format.equals("table")) {
      throw new ConfigException("task regression needs format table, got format '" + format + "'");
    }
    Check.nonNegative("trainLimit", trainLimit);
    Check.nonNegative("numClasses", numClasses);
    Check.positive("imageSize", imageSize);
    if (imageResize < imageSize) {
      throw new ConfigException(
          "imageResize must be >= imageSize (" + imageSize + "), got " + imageResize);
    }
    channels("mean", mean, false);
    channels("std", std, true);
    Check.nonNegative("inputPartitions", inputPartitions);
    Check.nonNegative("prefetchBatches", prefetchBatches);
    for (String kv : hadoop) {
      int eq = kv == null ? -1 : kv.indexOf('=');
      if (eq <= 0) {
        throw new ConfigException("hadoop entries must be key=value, got '" + kv + "'");
      }
    }
    augment = augment == null ? AugmentConfig.none() : augment;
    if (augment.active() && format.equals("image_folder")) {
      if (!crop.equals("center") || flip) {
        throw new ConfigException(
            "augment: crop and flip are drawn every epoch by augment; the read-time crop '"
                + crop
                + "' and flip "
                + flip
                + " must stay center and false with it");
      }
      if (!mean.equals(List.of(0.0, 0.0, 0.0)) || !std.equals(List.of(1.0, 1.0, 1.0))) {
        throw new ConfigException(
            "augment: normalisation goes into augment.mean and augment.std; the read-time mean "
                + mean
                + " and std "
                + std
                + " must stay [0, 0, 0] and [1, 1, 1] with it");
      }
    }
    if (augment.active() && format.equals("table")) {
      throw new ConfigException(
          "augment applies to image data sets (idx, cifar10, cifar100, image_folder), got format"
              + " table");
    }
  }

  /** The same data settings with another augmentation. */
  public DataConfig withAugment(AugmentConfig a) {
    return new DataConfig(
        dataset,
        mirror,
        cacheDir,
        trainLimit,
        format,
        path,
        testPath,
        tableFormat,
        featureColumn,
        labelColumn,
        task,
        numClasses,
        cifarLabels,
        imageSize,
        imageResize,
        crop,
        flip,
        mean,
        std,
        inputPartitions,
        skipBadRecords,
        prefetchBatches,
        hadoop,
        a);
  }

  /** The format in use: {@code format}, or the named data set's. */
  public String effectiveFormat() {
    if (!format.isEmpty()) {
      return format;
    }
    return switch (dataset) {
      case "cifar10" -> "cifar10";
      case "cifar100" -> "cifar100";
      case "majority-tokens" -> "generated";
      default -> "idx";
    };
  }

  private static void oneOf(String key, String value, Set<String> allowed, boolean emptyOk) {
    if (!(emptyOk && value.isEmpty()) && !allowed.contains(value)) {
      throw new ConfigException(
          key + " must be one of " + new TreeSet<>(allowed) + ", got '" + value + "'");
    }
  }

  private static void channels(String key, List<Double> values, boolean positive) {
    if (values.size() != 3) {
      throw new ConfigException(
          key + " must list 3 values (R, G, B), got " + values.size() + ": " + values);
    }
    for (Double v : values) {
      if (v == null || !Double.isFinite(v) || (positive && v <= 0)) {
        throw new ConfigException(
            key + " values must be finite" + (positive ? " and > 0" : "") + ", got " + values);
      }
    }
  }
}
