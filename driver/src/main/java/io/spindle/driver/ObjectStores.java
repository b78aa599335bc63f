package io.spindle.driver;

import java.util.Locale;
import java.util.Set;
import org.apache.hadoop.fs.FileSystem;

/**
 * Which Hadoop file systems are object stores: {@code s3a}, {@code s3}, {@code s3n}, {@code gs},
 * {@code wasb[s]}, {@code abfs[s]}, {@code oss}, {@code cosn}, {@code obs}. A directory rename
 * there is a copy of every object followed by a delete, neither atomic nor cheap, while a single
 * file upload becomes visible only whole, when it completes. The checkpoint store and the run's
 * outputs write in place there instead of renaming ({@code checkpoint.CheckpointStore}, {@link
 * RunOutput}).
 */
public final class ObjectStores {
  private static final Set<String> SCHEMES =
      Set.of("s3a", "s3", "s3n", "gs", "wasb", "wasbs", "abfs", "abfss", "oss", "cosn", "obs");

  private ObjectStores() {}

  /** Whether {@code fs} renames a directory atomically; false for the object stores. */
  public static boolean renameIsAtomic(FileSystem fs) {
    return !SCHEMES.contains(fs.getScheme().toLowerCase(Locale.ROOT));
  }
}
