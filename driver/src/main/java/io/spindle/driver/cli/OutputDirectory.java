package io.spindle.driver.cli;

import io.spindle.config.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * The one rule for reusing an output directory: a run never silently overwrites another. A missing
 * or empty directory is used as is; a non-empty one is refused (exit 2) unless {@code --overwrite}
 * is given, in which case its {@code summary.json} is deleted before anything else is written, so
 * that a scheduler never reads the old run's summary beside the new run's files.
 */
final class OutputDirectory {
  static final String OVERWRITE = "--overwrite";

  private OutputDirectory() {}

  private static ConfigException refusal(String dir, List<String> present) {
    return new ConfigException(
        "output directory "
            + dir
            + " is not empty (holds "
            + String.join(", ", present)
            + (present.size() == 5 ? ", ..." : "")
            + "); pass "
            + OVERWRITE
            + " to replace that run, or choose another --output");
  }

  /**
   * The Hadoop configuration the run's file systems are opened with before Spark starts: the {@code
   * *-site.xml} files on the classpath plus Spark's {@code spark.hadoop.*} settings, as Spark
   * builds it.
   */
  static Configuration hadoopConf(org.apache.spark.SparkConf spark) {
    Configuration conf = new Configuration();
    for (scala.Tuple2<String, String> kv : spark.getAllWithPrefix("spark.hadoop.")) {
      conf.set(kv._1(), kv._2());
    }
    return conf;
  }

  /**
   * As {@link #claim(Path, boolean)} for a local path or a Hadoop file system URI ({@code hdfs://},
   * {@code s3a://}, ...; see {@link io.spindle.driver.RunOutput#open}).
   */
  static void claim(String location, boolean overwrite, Configuration hadoop) {
    if (!io.spindle.driver.RunOutput.isRemote(location)) {
      claim(io.spindle.driver.RunOutput.localPath(location), overwrite);
      return;
    }
    org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(location);
    try {
      FileSystem fs = dir.getFileSystem(hadoop);
      if (!fs.exists(dir)) {
        return;
      }
      if (!fs.getFileStatus(dir).isDirectory()) {
        throw new ConfigException("--output " + location + " exists and is not a directory");
      }
      List<String> present =
          Stream.of(fs.listStatus(dir)).map(s -> s.getPath().getName()).sorted().limit(5).toList();
      if (present.isEmpty()) {
        return;
      }
      if (!overwrite) {
        throw refusal(location, present);
      }
      fs.delete(new org.apache.hadoop.fs.Path(dir, "summary.json"), false);
      // the replaced run's checkpoints must not be resumed into the new one
      fs.delete(new org.apache.hadoop.fs.Path(dir, "checkpoints"), true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot check output directory " + location + ": " + e, e);
    }
  }

  static void claim(Path dir, boolean overwrite) {
    if (!Files.exists(dir)) {
      return;
    }
    if (!Files.isDirectory(dir)) {
      throw new ConfigException("--output " + dir + " exists and is not a directory");
    }
    List<String> present;
    try (Stream<Path> entries = Files.list(dir)) {
      present = entries.map(p -> p.getFileName().toString()).sorted().limit(5).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list output directory " + dir + ": " + e, e);
    }
    if (present.isEmpty()) {
      return;
    }
    if (!overwrite) {
      throw refusal(dir.toString(), present);
    }
    try {
      Files.deleteIfExists(dir.resolve("summary.json"));
      // the replaced run's checkpoints must not be resumed into the new one
      Path checkpoints = dir.resolve("checkpoints");
      if (Files.isDirectory(checkpoints)) {
        try (Stream<Path> all = Files.walk(checkpoints)) {
          for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.delete(p);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clear the replaced run in " + dir + ": " + e, e);
    }
  }
}
