package io.spindle.driver.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.driver.ObjectStores;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A directory of checkpoints on any Hadoop file system ({@code file://}, {@code hdfs://}, ...).
 *
 * <h2>Layout (format version 1)</h2>
 *
 * <pre>
 * ROOT/
 *   step-000000000120/          one checkpoint; the name holds the global step, 12 digits
 *     manifest.json             written last: format, formatVersion, counters, cursor, RNG, files
 *     params.bin                the flat parameter vector, raw little-endian float32 or float64
 *     optimizer.bin             the whole optimiser state, same encoding, FlatOptimizer's layout
 *                               (Adam [m | v], momentum/Nesterov [v], AdaGrad [h], RMSProp [s],
 *                               SGD: an empty file); the collective engine's shards are
 *                               reassembled on the driver before every checkpoint
 *     config.yaml               the run's effective config, as {@code ConfigLoader.toYaml} writes it
 *     compression.bin           only with lossy cluster.compression (bf16, powersgd, topk): every
 *                               worker's error-feedback residual and PowerSGD's warm-start factors,
 *                               {@code ExchangeState.toBytes()} (layout in its class comment)
 *   .tmp-step-...-UUID/         a checkpoint being written where rename is atomic (ignored by
 *                               readers, removed on start)
 * </pre>
 *
 * <p>{@code manifest.json} holds: {@code format} ({@code spindle-checkpoint}), {@code
 * formatVersion} (1); {@code globalStep} (optimiser steps applied, which is also the iteration of
 * the next step, so Adam's bias correction continues exactly), {@code epoch} (0-based), {@code
 * stepInEpoch} (steps of that epoch done), {@code stepsPerEpoch}, {@code epochEvaluated}, {@code
 * examplesSeen}; {@code dataCursor} (the epoch's permutation seed {@code seed * 0x9E3779B97F4A7C15
 * + epoch}, see {@code EpochPlan}, and the next position {@code stepInEpoch * batchSize}); {@code
 * rng}: Spindle keeps no mutable RNG state, every random draw is derived from the config seed: the
 * initialisation from {@code seed}, the epoch order from (seed, epoch), the dropout masks and input
 * corruption of the example at index {@code e} of global step {@code t}'s batch from {@code
 * StepKey(seed, t, e)}; so {@code seed}, {@code nextIteration} and {@code workers} reproduce all of
 * them; {@code optimizer} (type, iteration, state layout); {@code compressionResiduals}: what
 * {@code compression.bin} holds, or none; {@code files}: for each file its length in bytes, SHA-256
 * and, for arrays, dtype and element count; {@code provenance}: versions of Spindle, Spark, Scala,
 * DL4J, ND4J, Java and the git revision.
 *
 * <p>Visibility: a checkpoint exists once its {@code manifest.json} does. Writers write the
 * manifest last and readers read it first: it lists every other file with its length and SHA-256,
 * so a directory without a manifest, or whose files do not match it, is never resumed from ({@link
 * #newestValid} skips it with a warning and falls back to an older checkpoint). Nothing is ever
 * read by Java deserialisation. How a writer gets there depends on the file system:
 *
 * <ul>
 *   <li><b>Atomic rename</b> (HDFS, local disks, ...): the checkpoint is written into a {@code
 *       .tmp-} directory, manifest last, and then renamed to its {@code step-} name, so a {@code
 *       step-} directory is always complete.
 *   <li><b>Object stores</b> ({@code s3a}, {@code s3}, {@code s3n}, {@code gs}, {@code wasb[s]},
 *       {@code abfs[s]}, {@code oss}, {@code cosn}, {@code obs}; see {@link ObjectStores}): a
 *       directory rename there is a copy of every object followed by a delete, neither atomic nor
 *       cheap, so the files are written straight into the {@code step-} directory, each one a
 *       single upload that becomes visible whole when it completes, and the manifest is uploaded
 *       last, as the commit record. A writer that dies before that leaves a {@code step-} directory
 *       without a manifest: readers skip it, and {@link #removePartial} (run when training starts)
 *       deletes it. Since S3 is strongly consistent for reads after writes and for listings (since
 *       December 2020), a reader that sees the manifest also sees the files.
 * </ul>
 *
 * <p>Deletion (retention, replacing a checkpoint) removes the manifest first, so a checkpoint being
 * deleted stops being a checkpoint before any of its files goes.
 *
 * <p>Retention: after each write, the newest {@code keepLast} checkpoints are kept, plus every one
 * whose step is a multiple of {@code keepEvery} (when > 0); the others are deleted.
 */
public final class CheckpointStore {
  public static final String FORMAT = "spindle-checkpoint";
  public static final int FORMAT_VERSION = 1;
  public static final String MANIFEST = "manifest.json";
  public static final String PARAMS = "params.bin";
  public static final String OPTIMIZER = "optimizer.bin";
  public static final String CONFIG = "config.yaml";
  public static final String COMPRESSION = "compression.bin";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final Pattern NAME = Pattern.compile("step-(\\d{12})");

  private final FileSystem fs;
  private final Path root;
  private final boolean atomicRename;

  private CheckpointStore(FileSystem fs, Path root, boolean atomicRename) {
    this.fs = fs;
    this.root = root;
    this.atomicRename = atomicRename;
  }

  /** The store at {@code uri} (a Hadoop path or URI), created if missing. */
  public static CheckpointStore open(String uri, Configuration conf) {
    return open(uri, conf, null);
  }

  /**
   * As {@link #open(String, Configuration)}, writing as on a file system whose rename is atomic or
   * not as {@code atomicRename} says ({@code null}: as {@link ObjectStores#renameIsAtomic} finds).
   */
  static CheckpointStore open(String uri, Configuration conf, Boolean atomicRename) {
    Path root = new Path(uri);
    try {
      FileSystem fs = root.getFileSystem(conf);
      if (fs instanceof ChecksumFileSystem c) {
        // Our own SHA-256 covers every file; no .crc side files.
        c.setWriteChecksum(false);
        c.setVerifyChecksum(false);
      }
      return new CheckpointStore(
          fs,
          fs.makeQualified(root),
          atomicRename != null ? atomicRename : ObjectStores.renameIsAtomic(fs));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open checkpoint directory " + uri + ": " + e, e);
    }
  }

  public Path root() {
    return root;
  }

  /** The path of the checkpoint at {@code globalStep}. */
  public Path pathOf(long globalStep) {
    return new Path(root, String.format("step-%012d", globalStep));
  }

  /**
   * Writes {@code snapshot} as the checkpoint of its global step, visible only once complete (see
   * the class comment), and returns its path. Refuses (with {@link
   * io.spindle.driver.TrainingDivergedException}) a state holding a NaN or infinite value, so a
   * diverged run never replaces its last good checkpoint.
   */
  public Path write(CheckpointSnapshot snapshot) {
    Path target = pathOf(snapshot.globalStep());
    Path dir =
        atomicRename
            ? new Path(root, ".tmp-" + target.getName() + "-" + UUID.randomUUID())
            : target;
    try {
      fs.mkdirs(root);
      if (!atomicRename) {
        deleteCheckpoint(target); // a checkpoint replaced: invisible before anything changes
      }
      fs.mkdirs(dir);
      ObjectNode files = JSON.createObjectNode();
      files.set(PARAMS, writeArray(dir, PARAMS, snapshot.params(), snapshot.doublePrecision()));
      files.set(
          OPTIMIZER,
          writeArray(dir, OPTIMIZER, snapshot.optimizerState(), snapshot.doublePrecision()));
      files.set(CONFIG, writeBytes(dir, CONFIG, snapshot.configYaml()));
      if (snapshot.exchangeState().length > 0) {
        files.set(COMPRESSION, writeBytes(dir, COMPRESSION, snapshot.exchangeState()));
      }
      ObjectNode manifest = snapshot.manifest(JSON);
      manifest.set("files", files);
      // Last: the commit record. On an object store the checkpoint is visible from here on.
      writeBytes(dir, MANIFEST, JSON.writeValueAsBytes(manifest));
      if (atomicRename) {
        deleteCheckpoint(target);
        if (!fs.rename(dir, target)) {
          throw new IOException("rename " + dir + " -> " + target + " failed");
        }
      }
      return target;
    } catch (IOException e) {
      deleteQuietly(dir);
      throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e, e);
    } catch (RuntimeException e) {
      deleteQuietly(dir);
      throw e;
    }
  }

  /** Deletes the checkpoint directory {@code dir} if present, its manifest first. */
  private void deleteCheckpoint(Path dir) throws IOException {
    if (fs.exists(dir)) {
      fs.delete(new Path(dir, MANIFEST), false);
      fs.delete(dir, true);
    }
  }

  /**
   * The steps of the {@code step-} directories, newest first; {@code .tmp-} directories and foreign
   * entries are left out. Whether one is a valid checkpoint is {@link #read}'s to say: on an object
   * store a {@code step-} directory may lack its manifest (a writer died), and is then none.
   */
  public List<Long> steps() {
    List<Long> out = new ArrayList<>();
    try {
      if (!fs.exists(root)) {
        return out;
      }
      for (FileStatus s : fs.listStatus(root)) {
        Matcher m = NAME.matcher(s.getPath().getName());
        if (s.isDirectory() && m.matches()) {
          out.add(Long.parseLong(m.group(1)));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list checkpoint directory " + root + ": " + e, e);
    }
    out.sort((a, b) -> Long.compare(b, a));
    return out;
  }

  /**
   * The newest checkpoint that passes every check, or empty; each damaged one on the way is
   * reported on {@code warnings} and skipped.
   */
  public Optional<Checkpoint> newestValid(PrintStream warnings) {
    for (long step : steps()) {
      try {
        return Optional.of(read(pathOf(step)));
      } catch (CheckpointException e) {
        warnings.println("spindle: warning: skipping damaged checkpoint: " + e.getMessage());
      }
    }
    return Optional.empty();
  }

  /**
   * Removes what a writer that died left: {@code .tmp-} directories and, on an object store, {@code
   * step-} directories without a manifest (see the class comment).
   */
  public void removePartial(PrintStream warnings) {
    try {
      if (!fs.exists(root)) {
        return;
      }
      for (FileStatus s : fs.listStatus(root)) {
        String name = s.getPath().getName();
        boolean partial =
            name.startsWith(".tmp-")
                || (!atomicRename
                    && s.isDirectory()
                    && NAME.matcher(name).matches()
                    && !fs.exists(new Path(s.getPath(), MANIFEST)));
        if (partial) {
          warnings.println("spindle: removing partial checkpoint " + s.getPath());
          fs.delete(s.getPath(), true);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clean checkpoint directory " + root + ": " + e, e);
    }
  }

  /** Deletes all but the newest {@code keepLast} and those at multiples of {@code keepEvery}. */
  public void retain(int keepLast, long keepEvery) {
    List<Long> steps = steps();
    for (int i = keepLast; i < steps.size(); i++) {
      long step = steps.get(i);
      if (keepEvery > 0 && step % keepEvery == 0) {
        continue;
      }
      try {
        deleteCheckpoint(pathOf(step));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete old checkpoint " + pathOf(step), e);
      }
    }
  }

  /** Reads and verifies the checkpoint directory {@code dir} (a Hadoop path or URI). */
  public static Checkpoint read(String dir, Configuration conf) {
    CheckpointStore store = open(dir, conf);
    return store.read(store.root());
  }

  /** Reads and verifies one checkpoint directory. */
  public Checkpoint read(Path dir) {
    Path manifestPath = new Path(dir, MANIFEST);
    JsonNode manifest;
    try {
      if (!fs.exists(dir)) {
        throw new CheckpointException("checkpoint " + dir + " does not exist");
      }
      if (!fs.exists(manifestPath)) {
        throw new CheckpointException(
            "checkpoint "
                + dir
                + " has no "
                + MANIFEST
                + " (a partial write, or not a Spindle checkpoint): expected "
                + manifestPath);
      }
      manifest = JSON.readTree(readAll(manifestPath, -1));
    } catch (IOException e) {
      throw new CheckpointException("cannot read " + manifestPath + ": " + e.getMessage(), e);
    }
    if (manifest == null || !manifest.isObject()) {
      throw new CheckpointException(manifestPath + ": expected a JSON object, found nothing");
    }
    String format = manifest.path("format").asText("");
    if (!FORMAT.equals(format)) {
      throw new CheckpointException(
          manifestPath + ": expected format '" + FORMAT + "', found '" + format + "'");
    }
    int version = manifest.path("formatVersion").asInt(-1);
    if (version != FORMAT_VERSION) {
      throw new CheckpointException(
          manifestPath
              + ": unsupported formatVersion "
              + manifest.path("formatVersion")
              + "; this Spindle reads formatVersion "
              + FORMAT_VERSION);
    }
    for (String key : List.of("globalStep", "epoch", "stepInEpoch", "files", "rng")) {
      if (manifest.path(key).isMissingNode()) {
        throw new CheckpointException(manifestPath + ": required key '" + key + "' is missing");
      }
    }
    JsonNode files = manifest.path("files");
    byte[] params = verified(dir, files, PARAMS);
    byte[] state = verified(dir, files, OPTIMIZER);
    byte[] config = verified(dir, files, CONFIG);
    byte[] exchange = files.has(COMPRESSION) ? verified(dir, files, COMPRESSION) : null;
    String dtype = files.path(PARAMS).path("dtype").asText("");
    if (!dtype.equals("float32") && !dtype.equals("float64")) {
      throw new CheckpointException(
          manifestPath + ": files." + PARAMS + ".dtype must be float32 or float64, got " + dtype);
    }
    return new Checkpoint(
        dir.toString(),
        manifest,
        params,
        state,
        dtype.equals("float64"),
        new String(config, StandardCharsets.UTF_8),
        exchange);
  }

  /** The bytes of {@code name} after checking its length and SHA-256 against the manifest. */
  private byte[] verified(Path dir, JsonNode files, String name) {
    Path file = new Path(dir, name);
    JsonNode entry = files.path(name);
    if (!entry.isObject() || !entry.has("bytes") || !entry.has("sha256")) {
      throw new CheckpointException(
          new Path(dir, MANIFEST) + ": files." + name + " with bytes and sha256 is missing");
    }
    long expected = entry.path("bytes").asLong();
    byte[] bytes;
    try {
      if (!fs.exists(file)) {
        throw new CheckpointException("checkpoint file " + file + " is missing");
      }
      long actual = fs.getFileStatus(file).getLen();
      if (actual != expected) {
        throw new CheckpointException(
            "checkpoint file "
                + file
                + " is "
                + actual
                + " bytes, the manifest says "
                + expected
                + (actual < expected ? " (truncated)" : ""));
      }
      bytes = readAll(file, expected);
    } catch (IOException e) {
      throw new CheckpointException("cannot read checkpoint file " + file + ": " + e, e);
    }
    String sha = sha256(bytes);
    if (!sha.equals(entry.path("sha256").asText())) {
      throw new CheckpointException(
          "checkpoint file "
              + file
              + " fails its SHA-256 check (corrupt): expected "
              + entry.path("sha256").asText()
              + ", found "
              + sha);
    }
    if (entry.has("length")) {
      int width = "float64".equals(entry.path("dtype").asText()) ? 8 : 4;
      if (entry.path("length").asLong() * width != expected) {
        throw new CheckpointException(
            new Path(dir, MANIFEST)
                + ": files."
                + name
                + " has "
                + entry.path("length").asLong()
                + " elements of "
                + width
                + " bytes but "
                + expected
                + " bytes");
      }
    }
    return bytes;
  }

  private byte[] readAll(Path file, long expected) throws IOException {
    try (InputStream in = fs.open(file)) {
      if (expected >= 0) {
        if (expected > Integer.MAX_VALUE - 16) {
          throw new CheckpointException(file + ": " + expected + " bytes is too large to load");
        }
        byte[] out = new byte[(int) expected];
        int off = 0;
        while (off < out.length) {
          int n = in.read(out, off, out.length - off);
          if (n < 0) {
            throw new EOFException("end of file at offset " + off + " of " + file);
          }
          off += n;
        }
        return out;
      }
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      in.transferTo(buf);
      return buf.toByteArray();
    }
  }

  private ObjectNode writeArray(Path dir, String name, double[] values, boolean float64)
      throws IOException {
    int width = float64 ? 8 : 4;
    MessageDigest digest = sha256();
    ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    try (OutputStream out = fs.create(new Path(dir, name), false)) {
      for (int i = 0; i < values.length; i++) {
        double v = values[i];
        if (!Double.isFinite(v)) {
          throw new io.spindle.driver.TrainingDivergedException(
              "refusing to checkpoint a diverged state: "
                  + name
                  + "["
                  + i
                  + "] is "
                  + v
                  + "; the last good checkpoint is kept");
        }
        if (buf.remaining() < width) {
          flush(buf, out, digest);
        }
        if (float64) {
          buf.putDouble(v);
        } else {
          buf.putFloat((float) v);
        }
      }
      flush(buf, out, digest);
    }
    ObjectNode entry = JSON.createObjectNode();
    entry.put("dtype", float64 ? "float64" : "float32");
    entry.put("length", values.length);
    entry.put("bytes", (long) values.length * width);
    entry.put("sha256", HexFormat.of().formatHex(digest.digest()));
    return entry;
  }

  private static void flush(ByteBuffer buf, OutputStream out, MessageDigest digest)
      throws IOException {
    buf.flip();
    byte[] a = buf.array();
    out.write(a, 0, buf.limit());
    digest.update(a, 0, buf.limit());
    buf.clear();
  }

  private ObjectNode writeBytes(Path dir, String name, byte[] content) throws IOException {
    try (OutputStream out = fs.create(new Path(dir, name), false)) {
      out.write(content);
    }
    ObjectNode entry = JSON.createObjectNode();
    entry.put("bytes", content.length);
    entry.put("sha256", sha256(content));
    return entry;
  }

  private void deleteQuietly(Path p) {
    try {
      fs.delete(p, true);
    } catch (IOException | RuntimeException ignored) {
      // no manifest or a .tmp- name: readers ignore it and the next start removes it
    }
  }

  static String sha256(byte[] bytes) {
    return HexFormat.of().formatHex(sha256().digest(bytes));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
