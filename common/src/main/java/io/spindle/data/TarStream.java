package io.spindle.data;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads the regular-file entries of a POSIX (ustar) tar stream in order, for the official CIFAR
 * archives. Call {@link #next()} to move to the next file; {@link #entryStream()} reads the current
 * file's bytes. Only what the archives use is supported: 512-byte headers, octal sizes, the ustar
 * name prefix.
 */
public final class TarStream {
  private final String source;
  private final InputStream in;
  private long offset;
  private long remaining;
  private long padding;
  private String name;
  private long size;

  public TarStream(String source, InputStream in) {
    this.source = source;
    this.in = in;
  }

  /** Advances to the next regular file; false at the end of the archive. */
  public boolean next() {
    try {
      skipFully(remaining + padding);
      remaining = 0;
      padding = 0;
      while (true) {
        byte[] header = new byte[512];
        int n = in.readNBytes(header, 0, 512);
        if (n == 0) {
          return false;
        }
        if (n < 512) {
          throw new DataFormatException(
              source + " offset " + offset + ": truncated tar header (" + n + " of 512 bytes)");
        }
        long at = offset;
        offset += 512;
        if (allZero(header)) {
          return false;
        }
        String entryName = text(header, 0, 100);
        String prefix = text(header, 345, 155);
        if (!prefix.isEmpty() && "ustar".equals(text(header, 257, 5))) {
          entryName = prefix + "/" + entryName;
        }
        long entrySize = octal(header, 124, 12, at);
        char type = (char) header[156];
        padding = (512 - entrySize % 512) % 512;
        remaining = entrySize;
        if (type == '0' || type == 0) {
          name = entryName;
          size = entrySize;
          return true;
        }
        skipFully(remaining + padding);
        remaining = 0;
        padding = 0;
      }
    } catch (IOException e) {
      throw new DataFormatException(source + " offset " + offset + ": cannot read: " + e, e);
    }
  }

  public String name() {
    return name;
  }

  public long size() {
    return size;
  }

  /** The current entry's content; reading past it returns end of stream. */
  public InputStream entryStream() {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        byte[] b = new byte[1];
        return read(b, 0, 1) < 0 ? -1 : b[0] & 0xFF;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (remaining == 0) {
          return -1;
        }
        int r = in.read(b, off, (int) Math.min(len, remaining));
        if (r < 0) {
          throw new EOFException(
              source + " offset " + offset + ": archive truncated inside entry " + name);
        }
        remaining -= r;
        offset += r;
        return r;
      }
    };
  }

  private void skipFully(long n) throws IOException {
    long left = n;
    while (left > 0) {
      long s = in.skip(left);
      if (s <= 0) {
        if (in.read() < 0) {
          throw new DataFormatException(
              source + " offset " + offset + ": archive truncated (" + left + " bytes missing)");
        }
        s = 1;
      }
      left -= s;
      offset += s;
    }
  }

  private static boolean allZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  private static String text(byte[] b, int from, int len) {
    int end = from;
    while (end < from + len && b[end] != 0) {
      end++;
    }
    return new String(b, from, end - from, StandardCharsets.US_ASCII).trim();
  }

  private long octal(byte[] b, int from, int len, long headerOffset) {
    String t = text(b, from, len);
    try {
      return t.isEmpty() ? 0 : Long.parseLong(t, 8);
    } catch (NumberFormatException e) {
      throw new DataFormatException(
          source + " offset " + (headerOffset + from) + ": bad tar size field '" + t + "'");
    }
  }
}
