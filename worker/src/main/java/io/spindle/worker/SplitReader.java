package io.spindle.worker;

import io.spindle.data.CheckedGzipInputStream;
import io.spindle.data.CifarFormat;
import io.spindle.data.DataFormatException;
import io.spindle.data.DataIntegrityException;
import io.spindle.data.Example;
import io.spindle.data.IdxReader;
import io.spindle.data.IdxRecordStream;
import io.spindle.data.InputSplit;
import io.spindle.data.ReadOptions;
import io.spindle.data.TarStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads one {@link InputSplit} on an executor through Hadoop's {@link FileSystem} ({@code file://},
 * {@code hdfs://}, {@code s3a://}, ...), streaming: examples are decoded one at a time as the
 * iterator is consumed, so a split never sits in memory whole. A bad record fails with a {@link
 * DataFormatException} naming the file and offset, unless {@link ReadOptions#skipBadRecords()}, in
 * which case it is dropped (the driver counts what is missing).
 *
 * <p>Integrity: files are opened through {@link VerifiedFiles#open}, which refuses a file that
 * changed since the driver planned the split; gzip files are decompressed by {@link
 * io.spindle.data.CheckedGzipInputStream}, and a {@linkplain InputSplit#verifiesFiles() verifying}
 * split reads them to their end after its last record (unless this JVM already verified that
 * version), so every member's CRC32 and ISIZE is checked once per file and run. A {@link
 * DataIntegrityException} is never skipped.
 */
public final class SplitReader {
  private static final Logger LOG = LoggerFactory.getLogger(SplitReader.class);

  private SplitReader() {}

  public static Configuration configuration(Map<String, String> hadoopConf) {
    Configuration conf = new Configuration();
    hadoopConf.forEach(conf::set);
    return conf;
  }

  /** The examples of {@code split}, decoded lazily. */
  public static Iterator<Example> read(
      InputSplit split, ReadOptions options, Map<String, String> hadoopConf) {
    try {
      return switch (split.kind()) {
        case IDX -> idx(split, options, hadoopConf);
        case CIFAR_BIN -> cifarBin(split, options, hadoopConf);
        case CIFAR_TAR -> cifarTar(split, options, hadoopConf);
        case IMAGES -> images(split, options, hadoopConf);
        case IMAGE_RANGES -> imageRanges(split, options, hadoopConf);
      };
    } catch (IOException e) {
      throw new DataFormatException("cannot read " + split + ": " + e, e);
    }
  }

  private static Iterator<Example> idx(
      InputSplit split, ReadOptions options, Map<String, String> conf) throws IOException {
    String imagesUri = split.uri(0);
    String labelsUri = split.uri(1);
    Configuration hadoop = configuration(conf);
    VerifiedFiles.Opened imagesFile = VerifiedFiles.open(split, 0, hadoop);
    IdxRecordStream images =
        new IdxRecordStream(imagesUri, imagesFile.stream(), IdxReader.IMAGES_MAGIC);
    VerifiedFiles.Opened labelsFile = VerifiedFiles.open(split, 1, hadoop);
    IdxRecordStream labels =
        new IdxRecordStream(labelsUri, labelsFile.stream(), IdxReader.LABELS_MAGIC);
    if (images.count() != labels.count()) {
      images.close();
      labels.close();
      throw new DataFormatException(
          imagesUri
              + " holds "
              + images.count()
              + " images but "
              + labelsUri
              + " holds "
              + labels.count()
              + " labels");
    }
    int from = (int) split.from();
    int to = (int) Math.min(split.to(), images.count());
    images.skip(from);
    labels.skip(from);
    int d = images.recordBytes();
    byte[] px = new byte[d];
    byte[] lb = new byte[1];
    return new Decoding(options, () -> closeAll(images, labels)) {
      int i = from;

      @Override
      Example decodeNext() {
        if (i >= to) {
          if (split.verifiesFiles()) {
            verifyRest(images, imagesFile.version());
            verifyRest(labels, labelsFile.version());
          }
          return null;
        }
        int index = i++;
        long labelOffset = labels.offset();
        images.read(px);
        labels.read(lb);
        int label = lb[0] & 0xFF;
        if (label >= options.numClasses()) {
          throw new DataFormatException(
              labelsUri
                  + " offset "
                  + labelOffset
                  + ": label "
                  + label
                  + " out of range [0, "
                  + options.numClasses()
                  + ") (example "
                  + index
                  + ")");
        }
        int side = (int) Math.round(Math.sqrt(d));
        return side * side == d
            ? Example.ofPixels(index, px.clone(), label, 1, side, side)
            : Example.ofPixels(index, px.clone(), label, 1, 1, d);
      }
    };
  }

  private static Iterator<Example> cifarBin(
      InputSplit split, ReadOptions options, Map<String, String> conf) throws IOException {
    CifarFormat format = options.cifar();
    String uri = split.uri(0);
    int rec = format.recordBytes();
    FSDataInputStream in = VerifiedFiles.open(split, 0, configuration(conf)).stream();
    in.seek(split.from() * rec);
    byte[] buf = new byte[rec];
    return new Decoding(options, in) {
      long r = split.from();

      @Override
      Example decodeNext() throws IOException {
        if (r >= split.to()) {
          return null;
        }
        long offset = r * rec;
        int index = (int) (split.firstIndex() + (r - split.from()));
        r++;
        int n = in.readNBytes(buf, 0, rec);
        if (n < rec) {
          r = split.to();
          throw new DataFormatException(
              uri
                  + " offset "
                  + (offset + n)
                  + ": file truncated: expected "
                  + rec
                  + " bytes of record "
                  + (offset / rec)
                  + ", found "
                  + n);
        }
        return format.decode(uri, offset, buf, 0, index, options.coarseLabels());
      }
    };
  }

  private static Iterator<Example> cifarTar(
      InputSplit split, ReadOptions options, Map<String, String> conf) throws IOException {
    CifarFormat format = options.cifar();
    String uri = split.uri(0);
    VerifiedFiles.Opened file = VerifiedFiles.open(split, 0, configuration(conf));
    InputStream raw = file.stream();
    CheckedGzipInputStream gzip = new CheckedGzipInputStream(uri, raw);
    TarStream tar = new TarStream(uri, gzip);
    java.util.List<String> wanted = split.members();
    byte[] buf = new byte[format.recordBytes()];
    return new Decoding(options, raw) {
      int member = -1;
      InputStream entry;
      long offset;
      int index;

      @Override
      Example decodeNext() throws IOException {
        while (true) {
          if (entry != null) {
            int n = entry.readNBytes(buf, 0, buf.length);
            if (n == buf.length) {
              long at = offset;
              offset += n;
              return format.decode(
                  uri + "!" + wanted.get(member), at, buf, 0, index++, options.coarseLabels());
            }
            if (n > 0) {
              entry = null;
              throw new DataFormatException(
                  uri
                      + "!"
                      + wanted.get(member)
                      + " offset "
                      + offset
                      + ": truncated record ("
                      + n
                      + " of "
                      + buf.length
                      + " bytes)");
            }
            entry = null;
          }
          if (member + 1 >= wanted.size()) {
            if (split.verifiesFiles() && !VerifiedFiles.isVerified(file.version())) {
              VerifiedFiles.markVerified(file.version(), drain(gzip));
            }
            return null;
          }
          member++;
          String name = wanted.get(member);
          while (tar.next()) {
            if (tar.name().equals(name)) {
              entry = tar.entryStream();
              offset = 0;
              break;
            }
          }
          if (entry == null) {
            throw new DataFormatException(uri + ": archive has no member " + name);
          }
        }
      }
    };
  }

  private static Iterator<Example> images(
      InputSplit split, ReadOptions options, Map<String, String> conf) {
    Configuration hadoop = configuration(conf);
    return new Decoding(options, () -> {}) {
      int i = 0;

      @Override
      Example decodeNext() throws IOException {
        if (i >= split.numUris()) {
          return null;
        }
        int k = i++;
        String uri = split.uri(k);
        Path path = new Path(uri);
        byte[] bytes;
        try (InputStream in = path.getFileSystem(hadoop).open(path)) {
          bytes = in.readAllBytes();
        }
        return options.images().apply(uri, bytes, split.firstIndex() + k, split.label(k));
      }
    };
  }

  /** Whether {@code name} is an image file name an image folder holds (jpg, jpeg, png). */
  public static boolean isImageName(String name) {
    String n = name.toLowerCase(java.util.Locale.ROOT);
    return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png");
  }

  /**
   * The image file names directly in {@code folder}, sorted; streamed from the file system's
   * listing (pages on HDFS and object stores), keeping only the names.
   */
  public static java.util.List<String> imageNames(String folder, Configuration conf)
      throws IOException {
    Path dir = new Path(folder);
    FileSystem fs = dir.getFileSystem(conf);
    java.util.List<String> names = new java.util.ArrayList<>();
    org.apache.hadoop.fs.RemoteIterator<org.apache.hadoop.fs.FileStatus> it;
    try {
      it = fs.listStatusIterator(dir);
    } catch (java.io.FileNotFoundException e) {
      throw new DataFormatException(folder + ": no such folder", e);
    }
    while (it.hasNext()) {
      org.apache.hadoop.fs.FileStatus st = it.next();
      String name = st.getPath().getName();
      if (st.isFile() && isImageName(name)) {
        names.add(name);
      }
    }
    names.sort(null);
    return names;
  }

  private static Iterator<Example> imageRanges(
      InputSplit split, ReadOptions options, Map<String, String> conf) {
    Configuration hadoop = configuration(conf);
    return new Decoding(options, () -> {}) {
      int folder = -1;
      java.util.List<String> names = java.util.List.of();
      long rank;
      int index = split.firstIndex();

      @Override
      Example decodeNext() throws IOException {
        while (folder < 0 || rank >= split.end(folder)) {
          if (folder + 1 >= split.numUris()) {
            return null;
          }
          folder++;
          String uri = split.uri(folder);
          names = imageNames(uri, hadoop);
          if (names.size() != split.count(folder)) {
            rank = split.end(folder); // with skipBadRecords: the folder's images count as skipped
            index += (int) (split.end(folder) - split.start(folder));
            throw new DataFormatException(
                uri
                    + ": expected "
                    + split.count(folder)
                    + " images, as when the data set was planned, found "
                    + names.size()
                    + "; the folder changed during the run");
          }
          rank = split.start(folder);
        }
        String name = names.get((int) rank++);
        String uri = split.uri(folder) + (split.uri(folder).endsWith("/") ? "" : "/") + name;
        Path path = new Path(uri);
        byte[] bytes;
        try (InputStream in = path.getFileSystem(hadoop).open(path)) {
          bytes = in.readAllBytes();
        }
        return options.images().apply(uri, bytes, index++, split.label(folder));
      }
    };
  }

  /**
   * Reads {@code stream} past its range to the end of the file, which checks a gzip file's CRC32
   * and ISIZE, unless this JVM already verified {@code version}.
   */
  private static void verifyRest(IdxRecordStream stream, VerifiedFiles.Version version) {
    if (stream.compressed() && !VerifiedFiles.isVerified(version)) {
      VerifiedFiles.markVerified(version, stream.verifyRest());
    }
  }

  /** Reads a gzip stream to its end (checking every member); the decompressed bytes read. */
  private static long drain(InputStream in) throws IOException {
    byte[] buf = new byte[1 << 16];
    long total = 0;
    int n;
    while ((n = in.read(buf)) >= 0) {
      total += n;
    }
    return total;
  }

  private static void closeAll(AutoCloseable... all) {
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception e) {
        LOG.debug("closing a reader failed", e);
      }
    }
  }

  /**
   * An iterator over decoded examples that drops bad records when asked to and closes its input at
   * the end.
   */
  private abstract static class Decoding implements Iterator<Example> {
    private final ReadOptions options;
    private final Closeable input;
    private Example next;
    private boolean done;

    Decoding(ReadOptions options, Closeable input) {
      this.options = options;
      this.input = input;
    }

    /** The next example, or null at the end; throws for a bad record. */
    abstract Example decodeNext() throws IOException;

    @Override
    public boolean hasNext() {
      while (next == null && !done) {
        try {
          next = decodeNext();
          if (next == null) {
            finish();
          }
        } catch (DataFormatException e) {
          if (!options.skipBadRecords() || e instanceof DataIntegrityException) {
            finish();
            throw e;
          }
          LOG.warn("skipping bad record: {}", e.getMessage());
        } catch (IOException e) {
          finish();
          throw new DataFormatException("read failed: " + e, e);
        } catch (RuntimeException e) {
          finish();
          throw e;
        }
      }
      return next != null;
    }

    @Override
    public Example next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Example e = next;
      next = null;
      return e;
    }

    private void finish() {
      done = true;
      try {
        input.close();
      } catch (IOException e) {
        LOG.debug("closing a reader failed", e);
      }
    }
  }
}
