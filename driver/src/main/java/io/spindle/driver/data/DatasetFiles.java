package io.spindle.driver.data;

import io.spindle.config.SpindleConfig;
import io.spindle.data.ArchiveSpec;
import io.spindle.data.DatasetDownloader;
import io.spindle.data.DatasetSpec;
import java.nio.file.Path;
import java.util.Map;

/**
 * The files of a run's data set on the driver: fetched (downloaded, or taken from the mirror) and
 * verified into the cache before Spark starts, so bad data fails fast; then the root the executors
 * read them from.
 */
public final class DatasetFiles {
  private DatasetFiles() {}

  /** Default cache folder of downloaded data sets. */
  public static Path defaultCacheDir() {
    return Path.of(System.getProperty("user.home"), ".cache", "spindle");
  }

  /**
   * Downloads (or takes from the mirror) and verifies the data set's files into the cache; returns
   * file name to cached path (nothing for {@code data.path} or a generated data set).
   */
  public static Map<String, Path> fetch(SpindleConfig config) {
    if (!config.data().path().isEmpty() || config.data().effectiveFormat().equals("generated")) {
      return Map.of(); // read from data.path on the executors, or generated: nothing to download
    }
    Path cache =
        config.data().cacheDir().isEmpty() ? defaultCacheDir() : Path.of(config.data().cacheDir());
    if (ArchiveSpec.isArchive(config.data().dataset())) {
      ArchiveSpec archive = ArchiveSpec.named(config.data().dataset());
      return Map.of(
          "folder", DatasetDownloader.fetchArchive(archive, config.data().mirror(), cache));
    }
    DatasetSpec spec = DatasetSpec.named(config.data().dataset());
    return DatasetDownloader.fetch(spec, config.data().mirror(), cache);
  }

  /**
   * Where the data set's files are: {@code data.path}, or the cache folder {@link #fetch} filled.
   */
  public static String root(SpindleConfig config, Map<String, Path> files) {
    if (!config.data().path().isEmpty()) {
      return config.data().path();
    }
    if (config.data().effectiveFormat().equals("generated")) {
      return "";
    }
    if (files.containsKey("folder")) {
      return files.get("folder").toUri().toString();
    }
    return files.get("train-images-idx3-ubyte.gz").getParent().toUri().toString();
  }
}
