package io.spindle.data;

import java.io.IOException;
import java.io.InputStream;

/**
 * Streams the records of one IDX file (see {@link IdxReader}) without holding the file in memory:
 * parses the header, then {@link #skip} and {@link #read} whole records. A gzip file cannot be
 * entered in the middle, so reading records {@code [from, to)} decompresses (and discards) the
 * records before {@code from}: each input partition of a gzip IDX file pays for decompressing the
 * prefix before its range. Offsets in messages count bytes of the decompressed content.
 *
 * <p>A gzip file is read through {@link CheckedGzipInputStream}, whose checks (each member's CRC32
 * and ISIZE) happen only where the stream passes a member's end: a reader that stops at its range
 * checks nothing, one that calls {@link #verifyRest()} checks the whole file.
 */
public final class IdxRecordStream implements AutoCloseable {
  private final String source;
  private final InputStream in;
  private final int count;
  private final int recordBytes;
  private final long dataStart;
  private long offset;

  /**
   * @param magic {@link IdxReader#IMAGES_MAGIC} or {@link IdxReader#LABELS_MAGIC}
   */
  public IdxRecordStream(String source, InputStream raw, int magic) {
    this.source = source;
    this.in = CheckedGzipInputStream.decompressIfGzip(source, raw);
    int found = readInt("IDX magic number");
    if (found != magic) {
      throw new DataFormatException(
          source + " offset 0: expected IDX magic " + magic + ", found " + found);
    }
    int dims = magic & 0xFF;
    count = readInt("record count");
    long rec = 1;
    for (int d = 1; d < dims; d++) {
      rec *= readInt("dimension " + d);
    }
    if (count < 0 || rec <= 0 || rec > (1 << 24)) {
      throw new DataFormatException(
          source + " offset 4: bad IDX dimensions (count " + count + ", record bytes " + rec + ")");
    }
    recordBytes = (int) rec;
    dataStart = offset;
  }

  /** True if the file is gzip-compressed (and so carries checksums {@link #verifyRest} checks). */
  public boolean compressed() {
    return in instanceof CheckedGzipInputStream;
  }

  public int count() {
    return count;
  }

  public int recordBytes() {
    return recordBytes;
  }

  /** Byte offset (in the decompressed content) of the next record. */
  public long offset() {
    return offset;
  }

  /** Skips {@code n} records. */
  public void skip(int n) {
    byte[] buf = new byte[recordBytes * Math.max(1, Math.min(n, 256))];
    long left = (long) n * recordBytes;
    while (left > 0) {
      int len = (int) Math.min(buf.length, left);
      fill(buf, len, "records");
      left -= len;
    }
  }

  /** Reads one record into {@code buf[0..recordBytes)}. */
  public void read(byte[] buf) {
    fill(buf, recordBytes, "a record");
  }

  /**
   * Reads the rest of the file after the current record: the remaining records, then the end. For a
   * gzip file this checks every member's CRC32 and ISIZE (a mismatch is a {@link
   * DataIntegrityException}); for any file, bytes after the last declared record are refused.
   *
   * @return the decompressed bytes read
   */
  public long verifyRest() {
    long end = dataStart + (long) count * recordBytes;
    long left = end - offset;
    long read = left;
    byte[] buf = new byte[1 << 16];
    while (left > 0) {
      int len = (int) Math.min(buf.length, left);
      fill(buf, len, "records");
      left -= len;
    }
    // Read to the very end before judging extra bytes: damaged compressed data often decodes to
    // the wrong length, and then the gzip trailer's CRC32 and ISIZE give the true reason.
    long extra = 0;
    try {
      int n;
      while ((n = in.read(buf)) > 0) {
        extra += n;
      }
    } catch (IOException e) {
      throw new DataFormatException(source + " offset " + offset + ": cannot read: " + e, e);
    }
    if (extra > 0) {
      throw new DataFormatException(
          source
              + " offset "
              + offset
              + ": "
              + extra
              + " unexpected bytes after the declared data ("
              + count
              + " records of "
              + recordBytes
              + " bytes)");
    }
    return read;
  }

  private int readInt(String what) {
    byte[] b = new byte[4];
    fill(b, 4, what);
    return ((b[0] & 0xFF) << 24) | ((b[1] & 0xFF) << 16) | ((b[2] & 0xFF) << 8) | (b[3] & 0xFF);
  }

  private void fill(byte[] b, int len, String what) {
    int total = 0;
    try {
      while (total < len) {
        int r = in.read(b, total, len - total);
        if (r < 0) {
          throw new DataFormatException(
              source
                  + " offset "
                  + (offset + total)
                  + ": file truncated: expected "
                  + len
                  + " bytes of "
                  + what
                  + ", found "
                  + total);
        }
        total += r;
      }
    } catch (java.io.EOFException e) {
      throw new DataFormatException(
          source + " offset " + (offset + total) + ": file truncated (" + e.getMessage() + ")", e);
    } catch (IOException e) {
      throw new DataFormatException(
          source + " offset " + (offset + total) + ": cannot read: " + e.getMessage(), e);
    }
    offset += len;
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException e) {
      throw new DataFormatException(source + ": cannot close: " + e.getMessage(), e);
    }
  }
}
