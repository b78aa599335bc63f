package io.spindle.worker;

import io.spindle.data.DataIntegrityException;
import io.spindle.data.InputSplit;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The executor's half of input integrity, through Hadoop's {@link FileSystem} so that it is the
 * same on {@code file://}, {@code hdfs://} and {@code s3a://}.
 *
 * <ul>
 *   <li>{@link #open}: a split's file is opened only if its length and modification time are still
 *       those the driver planned the split from, so every split of a run reads one version of it.
 *   <li>The verdict cache: a {@linkplain InputSplit#verifiesFiles() verifying} split reads its gzip
 *       files to their end, which checks every member's CRC32 and ISIZE, and records the file's
 *       {@link Version} (path, length, modification time) here; a later read of the same version in
 *       this JVM (the test set read twice while loading, a partition recomputed after its cached
 *       blocks were lost) skips the drain. A changed file has another version, so it is checked
 *       again. A failed check is not cached: the run stops.
 * </ul>
 */
public final class VerifiedFiles {
  /** One version of a file: its qualified path, length and modification time (ms). */
  public record Version(String path, long length, long modified) {}

  /** An open file and the version it was opened at. */
  public record Opened(FSDataInputStream stream, Version version) {}

  private static final int MAX_ENTRIES = 10_000;
  private static final Set<Version> VERIFIED = ConcurrentHashMap.newKeySet();
  private static final AtomicLong VERIFICATIONS = new AtomicLong();
  private static final AtomicLong DRAINED_BYTES = new AtomicLong();

  private VerifiedFiles() {}

  /**
   * Opens file {@code i} of {@code split}; if the split carries the planned version of the file and
   * the file no longer matches it, fails naming the file and both versions.
   */
  public static Opened open(InputSplit split, int i, Configuration conf) throws IOException {
    String uri = split.uri(i);
    Path path = new Path(uri);
    FileSystem fs = path.getFileSystem(conf);
    FileStatus status;
    try {
      status = fs.getFileStatus(path);
    } catch (FileNotFoundException e) {
      throw new DataIntegrityException(
          uri + ": no such file (it was there when the run planned its input)", e);
    }
    Version version =
        new Version(
            fs.makeQualified(path).toString(), status.getLen(), status.getModificationTime());
    if (split.hasPlannedVersion(i)
        && (split.plannedLength(i) != version.length()
            || split.plannedModified(i) != version.modified())) {
      throw new DataIntegrityException(
          uri
              + " changed while the run was reading it: planned from "
              + split.plannedLength(i)
              + " bytes modified "
              + Instant.ofEpochMilli(split.plannedModified(i))
              + ", now "
              + version.length()
              + " bytes modified "
              + Instant.ofEpochMilli(version.modified())
              + "; a run reads one version of each input file, so start it again");
    }
    return new Opened(fs.open(path), version);
  }

  /** True if this JVM has read {@code version} to its end with every checksum matching. */
  public static boolean isVerified(Version version) {
    return VERIFIED.contains(version);
  }

  /** Records that {@code version} was read to its end, {@code drained} bytes after the range. */
  public static void markVerified(Version version, long drained) {
    if (VERIFIED.size() >= MAX_ENTRIES) {
      VERIFIED.clear(); // a bound, not an eviction policy: files are few in practice
    }
    VERIFIED.add(version);
    VERIFICATIONS.incrementAndGet();
    DRAINED_BYTES.addAndGet(drained);
  }

  /** Files verified by draining to their end in this JVM so far. */
  public static long verifications() {
    return VERIFICATIONS.get();
  }

  /**
   * Decompressed bytes read in this JVM only to verify files (after the verifying split's range),
   * the cost of the check beyond reading the data.
   */
  public static long drainedBytes() {
    return DRAINED_BYTES.get();
  }

  /** Forgets every verdict (tests: to measure a first read again). */
  public static void forgetAll() {
    VERIFIED.clear();
  }
}
