package io.spindle.config;

/**
 * Where the data comes from.
 *
 * @param dataset a named data set: mnist or fashion-mnist
 * @param mirror a folder or URL laid out like the official download site, used instead of it; when
 *     empty the environment variable SPINDLE_DATA_MIRROR is used, and when that is unset too the
 *     official URLs
 * @param cacheDir folder (local path or Hadoop URI) that holds downloaded files; empty means
 *     ~/.cache/spindle
 * @param trainLimit use only the first N training examples (0 = all)
 */
public record DataConfig(String dataset, String mirror, String cacheDir, int trainLimit)
    implements java.io.Serializable {
  public static final java.util.Set<String> DATASETS = java.util.Set.of("mnist", "fashion-mnist");

  public DataConfig {
    Check.notNull("dataset", dataset);
    if (!DATASETS.contains(dataset)) {
      throw new ConfigException(
          "dataset must be one of "
              + new java.util.TreeSet<>(DATASETS)
              + ", got '"
              + dataset
              + "'");
    }
    mirror = mirror == null ? "" : mirror.trim();
    cacheDir = cacheDir == null ? "" : cacheDir.trim();
    Check.nonNegative("trainLimit", trainLimit);
  }
}
