package io.spindle.driver.score;

import io.spindle.config.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Writes a result directory so that a reader sees all of it or nothing: everything goes into a
 * hidden sibling ({@code .<name>.spindle-tmp-<random>}, which Spark and Hadoop readers skip) and is
 * renamed to the output path when complete. A process killed while writing leaves no output
 * directory; the next write to the same output deletes the leftover temporary directories, and a
 * normal JVM shutdown (SIGTERM, Ctrl-C) deletes its own.
 *
 * <p>An existing output is refused unless {@code overwrite}; then the old one is renamed aside, the
 * new one renamed in, and the old one deleted (two renames: a reader may find no output for that
 * instant, never a partial one).
 */
public final class AtomicOutput {
  static final String TMP_MARK = ".spindle-tmp-";

  private AtomicOutput() {}

  /**
   * Runs {@code write} with a temporary path, then renames it to {@code output}.
   *
   * @return the output path, qualified
   */
  public static String write(
      String output, boolean overwrite, Configuration conf, Consumer<String> write) {
    Path out = new Path(output);
    try {
      FileSystem fs = out.getFileSystem(conf);
      out = fs.makeQualified(out);
      if (fs.exists(out) && !overwrite) {
        throw new ConfigException(
            "--output " + output + " exists; pass --overwrite to replace it, or choose another");
      }
      Path parent = out.getParent();
      fs.mkdirs(parent);
      String prefix = "." + out.getName() + TMP_MARK;
      for (FileStatus s : fs.listStatus(parent)) {
        if (s.getPath().getName().startsWith(prefix)) {
          fs.delete(s.getPath(), true); // left by a killed run
        }
      }
      Path tmp = new Path(parent, prefix + UUID.randomUUID());
      Path finalTmp = tmp;
      Thread cleanup =
          new Thread(
              () -> {
                try {
                  fs.delete(finalTmp, true);
                } catch (IOException e) {
                  // shutting down: nothing more to do
                }
              },
              "spindle-output-cleanup");
      Runtime.getRuntime().addShutdownHook(cleanup);
      try {
        write.accept(tmp.toString());
        if (fs.exists(out)) {
          Path old = new Path(parent, "." + out.getName() + ".spindle-old-" + UUID.randomUUID());
          rename(fs, out, old);
          rename(fs, tmp, out);
          fs.delete(old, true);
        } else {
          rename(fs, tmp, out);
        }
      } finally {
        if (fs.exists(tmp)) {
          fs.delete(tmp, true);
        }
        try {
          Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException e) {
          // already shutting down
        }
      }
      return out.toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + output + ": " + e, e);
    }
  }

  private static void rename(FileSystem fs, Path from, Path to) throws IOException {
    if (!fs.rename(from, to)) {
      throw new IOException("rename " + from + " -> " + to + " failed");
    }
  }
}
