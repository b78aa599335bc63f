package io.spindle.driver.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * Kills a driver mid-checkpoint deterministically, from the test side only: a Hadoop file system
 * subclass installed in the driver's JVM ({@link PausingLocalFileSystem}, or S3A's in the deploy
 * tests) calls {@link #beforeCreate} before it creates a file. When that file is {@code file} of
 * the checkpoint of global step {@code step} (in its {@code step-} or {@code .tmp-step-}
 * directory), it prints {@link #PAUSED} and the path to stderr and sleeps, so that the test, which
 * watches for the line, can SIGKILL the process while the checkpoint is half written.
 *
 * <p>The file system is installed through Hadoop's own plug-in point, {@code fs.<scheme>.impl}, in
 * a {@code core-site.xml} that {@link #hadoopConfDir} writes and that the test puts at the front of
 * the driver's classpath (every {@code new Configuration()} there reads it, Spark's included, so
 * the JVM's one cached file system of that scheme is the pausing one). Production code knows
 * nothing of it.
 */
public final class CheckpointPause {
  /** Hadoop key: the global step of the checkpoint to pause in. */
  public static final String STEP = "spindle.test.pause.step";

  /** Hadoop key: the file of that checkpoint whose creation is paused. */
  public static final String FILE = "spindle.test.pause.file";

  /** The line printed to stderr when the writer pauses. */
  public static final String PAUSED = "checkpoint pause: about to create";

  private CheckpointPause() {}

  /** Pauses (for ten minutes) if {@code file} is the file {@code conf} asks to pause before. */
  public static void beforeCreate(Configuration conf, org.apache.hadoop.fs.Path file) {
    String step = conf.get(STEP);
    String name = conf.get(FILE);
    if (step == null || name == null || !file.getName().equals(name)) {
      return;
    }
    String dir = file.getParent().getName();
    String checkpoint = String.format("step-%012d", Long.parseLong(step.trim()));
    if (!Pattern.matches("(\\.tmp-)?" + checkpoint + "(-.*)?", dir)) {
      return;
    }
    System.err.println(PAUSED + " " + file);
    System.err.flush();
    try {
      Thread.sleep(600_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Writes {@code dir/core-site.xml} installing {@code fs} for {@code scheme} and pausing before
   * {@code file} of the checkpoint of {@code step}; returns {@code dir}, a classpath entry.
   */
  public static Path hadoopConfDir(
      Path dir, String scheme, Class<? extends FileSystem> fs, long step, String file) {
    String xml =
        """
        <?xml version="1.0"?>
        <configuration>
          <property><name>fs.%s.impl</name><value>%s</value></property>
          <property><name>%s</name><value>%d</value></property>
          <property><name>%s</name><value>%s</value></property>
        </configuration>
        """
            .formatted(scheme, fs.getName(), STEP, step, FILE, file);
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("core-site.xml"), xml, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return dir;
  }

  /** The classpath entries (jar or folder) that hold {@code classes}. */
  public static List<String> classpathOf(Class<?>... classes) {
    return java.util.Arrays.stream(classes)
        .map(c -> c.getProtectionDomain().getCodeSource().getLocation())
        .map(
            u -> {
              try {
                return Path.of(u.toURI()).toString();
              } catch (java.net.URISyntaxException e) {
                throw new IllegalStateException(e);
              }
            })
        .distinct()
        .toList();
  }
}
