package io.spindle.data;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Reads IDX files (the MNIST format): big-endian, a 4-byte magic (0x0000 0x08 = unsigned byte, then
 * the number of dimensions), one 4-byte size per dimension, then the data. Images have magic 2051
 * (3 dimensions: count, rows, cols), labels 2049 (1 dimension: count). Gzip-compressed files are
 * recognised by their header and read through {@link CheckedGzipInputStream}; since these readers
 * read the whole file, every gzip member's CRC32 and ISIZE are checked. Offsets in error messages
 * count bytes of the decompressed content.
 */
public final class IdxReader {
  public static final int IMAGES_MAGIC = 2051;
  public static final int LABELS_MAGIC = 2049;
  private static final int MAX_DIM = 1 << 24;

  private IdxReader() {}

  public static IdxImages readImages(String source, InputStream in) {
    Cursor c = open(source, in);
    c.expectMagic(IMAGES_MAGIC, "images");
    int count = c.dimension("image count");
    int rows = c.dimension("rows");
    int cols = c.dimension("columns");
    long size = (long) count * rows * cols;
    if (size > Integer.MAX_VALUE - 16) {
      throw new DataFormatException(
          source + " offset 4: " + count + " x " + rows + " x " + cols + " pixels is too large");
    }
    byte[] pixels = c.readData((int) size, "pixel data");
    c.expectEnd();
    return new IdxImages(source, count, rows, cols, pixels);
  }

  /** The labels, each checked to lie in {@code [0, numClasses)}. */
  public static byte[] readLabels(String source, InputStream in, int numClasses) {
    Cursor c = open(source, in);
    c.expectMagic(LABELS_MAGIC, "labels");
    int count = c.dimension("label count");
    byte[] labels = c.readData(count, "label data");
    c.expectEnd();
    for (int i = 0; i < count; i++) {
      int label = labels[i] & 0xFF;
      if (label >= numClasses) {
        throw new DataFormatException(
            source
                + " offset "
                + (8 + i)
                + ": label "
                + label
                + " out of range [0, "
                + numClasses
                + ") (example "
                + i
                + ")");
      }
    }
    return labels;
  }

  private static Cursor open(String source, InputStream raw) {
    return new Cursor(source, CheckedGzipInputStream.decompressIfGzip(source, raw));
  }

  /** Reads the decompressed stream, tracking the offset for messages. */
  private static final class Cursor {
    private final String source;
    private final InputStream in;
    private long offset;

    Cursor(String source, InputStream in) {
      this.source = source;
      this.in = in;
    }

    int readInt(String what) {
      byte[] b = new byte[4];
      int n = fill(b, 0, 4);
      if (n < 4) {
        throw new DataFormatException(
            source
                + " offset "
                + offset
                + ": file truncated: expected 4 bytes of "
                + what
                + ", found "
                + n);
      }
      offset += 4;
      return ((b[0] & 0xFF) << 24) | ((b[1] & 0xFF) << 16) | ((b[2] & 0xFF) << 8) | (b[3] & 0xFF);
    }

    void expectMagic(int magic, String kind) {
      int found = readInt("IDX magic number");
      if (found != magic) {
        throw new DataFormatException(
            source + " offset 0: expected IDX magic " + magic + " (" + kind + "), found " + found);
      }
    }

    int dimension(String what) {
      long at = offset;
      int d = readInt(what);
      if (d < 0 || d > MAX_DIM) {
        throw new DataFormatException(
            source
                + " offset "
                + at
                + ": "
                + what
                + " must be in [0, "
                + MAX_DIM
                + "], found "
                + d);
      }
      return d;
    }

    byte[] readData(int size, String what) {
      byte[] data = new byte[size];
      int n = fill(data, 0, size);
      if (n < size) {
        throw new DataFormatException(
            source
                + " offset "
                + (offset + n)
                + ": file truncated: expected "
                + size
                + " bytes of "
                + what
                + " after the header, found "
                + n);
      }
      offset += size;
      return data;
    }

    void expectEnd() {
      // to the very end first: for a gzip file a damaged stream that decoded to too many bytes is
      // then reported by its CRC32/ISIZE check, the true reason
      byte[] buf = new byte[1 << 16];
      long extra = 0;
      int n;
      while ((n = fill(buf, 0, buf.length)) > 0) {
        extra += n;
      }
      if (extra > 0) {
        throw new DataFormatException(
            source + " offset " + offset + ": unexpected bytes after the declared data");
      }
    }

    private int fill(byte[] b, int from, int len) {
      int total = 0;
      try {
        while (total < len) {
          int r = in.read(b, from + total, len - total);
          if (r < 0) {
            break;
          }
          total += r;
        }
        return total;
      } catch (EOFException e) {
        return total;
      } catch (IOException e) {
        throw new DataFormatException(
            source + " offset " + (offset + total) + ": cannot read: " + e.getMessage(), e);
      }
    }
  }
}
