package io.spindle.driver;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.sync.Evaluation;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.deeplearning4j.util.ModelSerializer;

/**
 * The output directory of a run: {@code config.yaml} (the effective config), {@code metrics.jsonl},
 * {@code report.html}, the run's log, {@code model.zip} (DL4J's ModelSerializer format) and {@code
 * summary.json}, written last. Every file but the metrics log is written to a temporary name and
 * atomically renamed, so a reader never sees half a file.
 *
 * <p>The directory is a local path, or any Hadoop file system URI ({@code hdfs://}, {@code s3a://},
 * ...; {@link #open}). For a Hadoop file system the listeners write into a local staging folder
 * ({@link #dir()}), and the files are published to the URI: {@code config.yaml} at once, {@code
 * metrics.jsonl}, {@code report.html} and the run's log ({@code spindle.log}) after every epoch
 * ({@link #publisher()}) and when the run ends, failed or not ({@link #close()}), {@code model.zip}
 * at the end and then {@code summary.json}, last, so that its presence still means the run
 * finished. Each file is published whole: on an object store as one upload, which becomes visible
 * only when complete; elsewhere to a temporary name and renamed. Checkpoints go straight to {@code
 * checkpoints/} under the URI (see {@code checkpoint.CheckpointStore}).
 */
public final class RunOutput implements AutoCloseable {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /**
   * The files a resumed run appends to ({@code MetricsLog}'s and the command line's run log, {@code
   * cli.RunLog}): fetched from a Hadoop URI into the staging folder when it is opened.
   */
  private static final java.util.List<String> APPENDED =
      java.util.List.of("metrics.jsonl", "spindle.log");

  /** Published only by {@link #writeSummary}, last. */
  private static final String SUMMARY = "summary.json";

  /** A URI scheme at the start of a location (RFC 3986). */
  private static final java.util.regex.Pattern SCHEME =
      java.util.regex.Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]*):");

  private final Path dir;
  private final FileSystem remoteFs;
  private final org.apache.hadoop.fs.Path remote;

  public RunOutput(Path dir) {
    this(dir, null, null);
  }

  private RunOutput(Path dir, FileSystem remoteFs, org.apache.hadoop.fs.Path remote) {
    this.dir = dir;
    this.remoteFs = remoteFs;
    this.remote = remote;
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot create output directory " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Whether {@code location} names a Hadoop file system other than the local one. */
  public static boolean isRemote(String location) {
    java.util.regex.Matcher m = SCHEME.matcher(location);
    // a one-letter "scheme" is a Windows drive letter
    return m.find() && m.group(1).length() > 1 && !m.group(1).equalsIgnoreCase("file");
  }

  /** {@code location}, a local path or a {@code file:} URI, as a local path. */
  public static Path localPath(String location) {
    if (location.startsWith("file://")) {
      return Path.of(URI.create(location.replace(" ", "%20")).getPath());
    }
    return Path.of(location.startsWith("file:") ? location.substring("file:".length()) : location);
  }

  /**
   * The output at {@code location}: a local path, or a Hadoop file system URI opened with {@code
   * hadoop}; for a URI, an existing {@code metrics.jsonl} and {@code spindle.log} there are fetched
   * into the staging folder, so that a resumed run appends to them.
   */
  public static RunOutput open(String location, Configuration hadoop) {
    if (!isRemote(location)) {
      return new RunOutput(localPath(location));
    }
    org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(location);
    try {
      FileSystem fs = target.getFileSystem(hadoop);
      target = fs.makeQualified(target);
      fs.mkdirs(target);
      RunOutput out = new RunOutput(Files.createTempDirectory("spindle-output-"), fs, target);
      for (String name : APPENDED) {
        org.apache.hadoop.fs.Path published = new org.apache.hadoop.fs.Path(target, name);
        if (fs.exists(published)) {
          try (InputStream in = fs.open(published)) {
            Files.copy(in, out.dir.resolve(name));
          }
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot open output directory " + location + ": " + e.getMessage(), e);
    }
  }

  /** The local directory the run's files are written into (a staging folder for a URI). */
  public Path dir() {
    return dir;
  }

  /** Where the run's files end up: the local directory's or the Hadoop file system's URI. */
  public String location() {
    return remote != null ? remote.toString() : dir.toAbsolutePath().toUri().toString();
  }

  /** Where the file {@code name} ends up (the directory itself for ""), for messages. */
  public String where(String name) {
    if (remote != null) {
      return name.isEmpty()
          ? remote.toString()
          : new org.apache.hadoop.fs.Path(remote, name).toString();
    }
    return dir.toAbsolutePath().resolve(name).toString();
  }

  /** The default checkpoint directory, {@code checkpoints} under {@link #location()}. */
  public String checkpointsLocation() {
    return remote != null
        ? new org.apache.hadoop.fs.Path(remote, "checkpoints").toString()
        : dir.resolve("checkpoints").toAbsolutePath().toUri().toString();
  }

  public Path metricsFile() {
    return dir.resolve("metrics.jsonl");
  }

  public void writeConfig(SpindleConfig config) {
    write("config.yaml", ConfigLoader.toYaml(config).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Writes {@code model.zip} with DL4J's {@code ModelSerializer}: a {@code MultiLayerNetwork}
   * (restore with {@code restoreMultiLayerNetwork}) or a {@code ComputationGraph} (with {@code
   * restoreComputationGraph}).
   */
  public void writeModel(org.deeplearning4j.nn.api.Model net) {
    Path tmp = dir.resolve(".model.zip.tmp");
    try {
      ModelSerializer.writeModel(net, tmp.toFile(), false);
      move(tmp, dir.resolve("model.zip"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + dir.resolve("model.zip") + ": " + e, e);
    }
    publish("model.zip");
  }

  /** Writes {@code summary.json}; for a URI, publishes the other files first. */
  public void writeSummary(Map<String, Object> summary) {
    publishAll();
    try {
      write(SUMMARY, JSON.writeValueAsBytes(summary));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A listener that publishes the files written so far ({@code metrics.jsonl}, {@code report.html},
   * the run's log) after every epoch; it does nothing for a local directory. Register it after the
   * listeners that write them.
   */
  public TrainingListener publisher() {
    return new TrainingListener() {
      @Override
      public void onEpochEnd(TrainingState state, Evaluation test) {
        publishAll();
      }
    };
  }

  /** Publishes every file of the staging folder but {@code summary.json} and temporary ones. */
  private void publishAll() {
    if (remote == null) {
      return;
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
        String name = f.getFileName().toString();
        if (!name.startsWith(".") && !name.equals(SUMMARY)) {
          publish(name);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list staging folder " + dir + ": " + e, e);
    }
  }

  private void write(String name, byte[] content) {
    Path tmp = dir.resolve("." + name + ".tmp");
    try {
      Files.write(tmp, content);
      move(tmp, dir.resolve(name));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + dir.resolve(name) + ": " + e, e);
    }
    publish(name);
  }

  /** Copies the local file {@code name} whole to the remote directory, if there is one. */
  private void publish(String name) {
    Path local = dir.resolve(name);
    if (remote == null || !Files.exists(local)) {
      return;
    }
    org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(remote, name);
    boolean direct = !ObjectStores.renameIsAtomic(remoteFs);
    org.apache.hadoop.fs.Path written =
        direct ? target : new org.apache.hadoop.fs.Path(remote, "." + name + ".tmp");
    try {
      try (OutputStream out = remoteFs.create(written, true)) {
        Files.copy(local, out);
      }
      if (!direct) {
        remoteFs.delete(target, false);
        if (!remoteFs.rename(written, target)) {
          throw new IOException("rename " + written + " -> " + target + " failed");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
    }
  }

  /**
   * For a URI output: publishes what is new since the last epoch (after a failure: the log, the
   * metrics up to it; never {@code summary.json}, which only {@link #writeSummary} writes), then
   * deletes the local staging folder. A local directory is left as it is.
   */
  @Override
  public void close() {
    if (remote == null) {
      return;
    }
    try {
      publishAll();
    } finally {
      try (Stream<Path> all = Files.walk(dir)) {
        for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete staging folder " + dir + ": " + e, e);
      }
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
