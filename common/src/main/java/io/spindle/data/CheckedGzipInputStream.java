package io.spindle.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.zip.CRC32;
import java.util.zip.Inflater;

/**
 * Decompresses a gzip file (RFC 1952) and checks every member as it passes its end: the CRC32 and
 * the length mod 2^32 (ISIZE) of the member's decompressed bytes against its 8-byte trailer.
 * Whoever reads such a stream to its end ({@code read} returns -1) has verified the whole file;
 * whoever stops earlier has verified nothing, which is why {@link IdxRecordStream#verifyRest} and
 * the executors' readers drain it (see {@code docs/integrity.md} for who does and how often).
 *
 * <p>What it accepts, and why:
 *
 * <ul>
 *   <li><b>Several members</b> (concatenated gzip files, {@code cat a.gz b.gz}, or files written by
 *       parallel compressors such as pigz/bgzip): one stream whose content is the concatenation of
 *       the members', each member checked against its own trailer. {@code gzip -d}, Python's {@code
 *       gzip} and the JDK's {@code GZIPInputStream} read them the same way.
 *   <li><b>Zero bytes after the last member</b> (padding to a block size, written by some tape and
 *       archive tools): ignored, as {@code gzip -d} and Python do.
 *   <li><b>Any other byte after a member</b> is refused. The JDK's {@code GZIPInputStream} ends the
 *       stream silently there, so a second member with a damaged header would vanish unseen.
 *   <li>Header checks: magic {@code 1f 8b}, method 8 (deflate), reserved flag bits zero, and the
 *       header CRC16 when the FHCRC flag is set.
 * </ul>
 *
 * <p>Failures are {@link DataIntegrityException}s (unchecked, thrown from {@code read}) naming the
 * file, the member and the compressed offset. A corrupt deflate stream usually fails where the
 * damage is; a damaged byte that still decodes (the common case for a flipped bit in a
 * Huffman-coded block) is caught by the CRC32 at the member's end. Costs the same as the JDK's
 * stream: zlib's inflate plus the intrinsic CRC32 over the output (measured in {@code
 * docs/integrity.md}).
 */
public final class CheckedGzipInputStream extends InputStream {
  private static final int FHCRC = 2;
  private static final int FEXTRA = 4;
  private static final int FNAME = 8;
  private static final int FCOMMENT = 16;
  private static final int RESERVED = 0xE0;

  private final String source;
  private final InputStream in;
  private final byte[] buf;
  private int pos; // next byte of buf not yet parsed or handed to the inflater
  private int limit; // end of the valid bytes in buf
  private long bufStart; // compressed offset of buf[0]
  private final Inflater inflater = new Inflater(true);
  private final CRC32 crc = new CRC32();
  private final CRC32 headerCrc = new CRC32();
  private boolean inHeader;
  private boolean inflating;
  private boolean done;
  private boolean closed;
  private int members;
  private long memberStart;
  private long memberSize;
  private long produced;
  private final byte[] one = new byte[1];

  /**
   * @param source the file's name for messages
   * @param in the compressed bytes, from the first byte of the gzip header
   */
  public CheckedGzipInputStream(String source, InputStream in) {
    this.source = source;
    this.in = in;
    this.buf = new byte[1 << 16];
  }

  /**
   * {@code raw} decompressed and checked if it starts with the gzip magic {@code 1f 8b}, else
   * {@code raw} itself (buffered).
   */
  public static InputStream decompressIfGzip(String source, InputStream raw) {
    BufferedInputStream buffered = new BufferedInputStream(raw, 1 << 16);
    try {
      buffered.mark(2);
      int b0 = buffered.read();
      int b1 = buffered.read();
      buffered.reset();
      return b0 == 0x1f && b1 == 0x8b ? new CheckedGzipInputStream(source, buffered) : buffered;
    } catch (IOException e) {
      throw new DataFormatException(source + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Decompressed bytes returned so far, over all members. */
  public long decompressedBytes() {
    return produced;
  }

  /** Members started so far. */
  public int members() {
    return members;
  }

  /** True once the end of the file was reached and every member's trailer matched. */
  public boolean verified() {
    return done;
  }

  @Override
  public int read() throws IOException {
    int n = read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xFF;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (closed) {
      throw new IOException(source + ": stream closed");
    }
    if (len == 0) {
      return 0;
    }
    while (!done) {
      if (!inflating) {
        if (!startMember()) {
          done = true;
          break;
        }
      }
      int n;
      try {
        n = inflater.inflate(b, off, len);
      } catch (java.util.zip.DataFormatException e) {
        throw new DataIntegrityException(
            String.format(
                Locale.ROOT,
                "%s: gzip member %d is corrupt near compressed offset %d (decompressed offset %d):"
                    + " %s; the file is damaged, copy or download it again",
                source,
                members,
                bufStart + limit - inflater.getRemaining(),
                produced,
                e.getMessage()),
            e);
      }
      if (n > 0) {
        crc.update(b, off, n);
        memberSize += n;
        produced += n;
        return n;
      }
      if (inflater.finished()) {
        pos = limit - inflater.getRemaining();
        inflating = false;
        checkTrailer();
      } else if (inflater.needsDictionary()) {
        throw new DataIntegrityException(
            source
                + ": gzip member "
                + members
                + " asks for a preset dictionary, which gzip does not allow; the file is damaged");
      } else if (inflater.needsInput()) {
        pos = limit; // the inflater took everything handed to it
        if (fill() <= 0) {
          throw new DataIntegrityException(
              String.format(
                  Locale.ROOT,
                  "%s: file truncated: it ends at compressed offset %d inside the compressed data"
                      + " of gzip member %d (after %d decompressed bytes), before the member's"
                      + " 8-byte trailer (CRC32, ISIZE)",
                  source,
                  bufStart + limit,
                  members,
                  produced));
        }
        inflater.setInput(buf, pos, limit - pos);
        pos = limit;
      }
    }
    return -1;
  }

  /**
   * Parses the next member's header; false at the end of the file (possibly after zero padding).
   */
  private boolean startMember() {
    long at = offset();
    int b0 = readByteOrEnd();
    if (members > 0) {
      if (b0 < 0) {
        return false;
      }
      if (b0 == 0) {
        skipZeroPadding(at);
        return false;
      }
    }
    int b1 = b0 < 0 ? -1 : readByteOrEnd();
    if (b0 != 0x1f || b1 != 0x8b) {
      if (members == 0) {
        throw new DataIntegrityException(
            String.format(
                Locale.ROOT,
                "%s: not a gzip file: expected the magic bytes 1f 8b at offset 0, found %s",
                source,
                hex(b0, b1)));
      }
      throw new DataIntegrityException(
          String.format(
              Locale.ROOT,
              "%s: unexpected bytes after gzip member %d: at compressed offset %d found %s, which"
                  + " is neither another gzip member (1f 8b) nor zero padding; the file is damaged"
                  + " or has data appended",
              source,
              members,
              at,
              hex(b0, b1)));
    }
    members++;
    memberStart = at;
    headerCrc.reset();
    headerCrc.update(0x1f);
    headerCrc.update(0x8b);
    inHeader = true;
    int method = headerByte();
    int flags = headerByte();
    if (method != 8) {
      throw headerError("compression method " + method + " (only 8, deflate, exists)");
    }
    if ((flags & RESERVED) != 0) {
      throw headerError(String.format(Locale.ROOT, "reserved flag bits set (flags 0x%02x)", flags));
    }
    for (int i = 0; i < 6; i++) { // MTIME (4), XFL, OS
      headerByte();
    }
    if ((flags & FEXTRA) != 0) {
      int xlen = headerByte() | (headerByte() << 8);
      for (int i = 0; i < xlen; i++) {
        headerByte();
      }
    }
    if ((flags & FNAME) != 0) {
      while (headerByte() != 0) {
        // the original file name, zero-terminated
      }
    }
    if ((flags & FCOMMENT) != 0) {
      while (headerByte() != 0) {
        // a comment, zero-terminated
      }
    }
    inHeader = false;
    if ((flags & FHCRC) != 0) {
      int expected = (int) (headerCrc.getValue() & 0xFFFF);
      int found = headerByte() | (headerByte() << 8);
      if (found != expected) {
        throw headerError(
            String.format(
                Locale.ROOT,
                "header CRC16 0x%04x, but the header's bytes give 0x%04x",
                found,
                expected));
      }
    }
    inflater.reset();
    crc.reset();
    memberSize = 0;
    inflating = true;
    if (pos < limit) {
      inflater.setInput(buf, pos, limit - pos);
      pos = limit;
    }
    return true;
  }

  private DataIntegrityException headerError(String what) {
    return new DataIntegrityException(
        source + ": gzip member " + members + " at compressed offset " + memberStart + ": " + what);
  }

  /** Reads the 8-byte trailer after a member's deflate data and checks it. */
  private void checkTrailer() {
    long at = offset();
    byte[] t = new byte[8];
    for (int i = 0; i < 8; i++) {
      int b = readByteOrEnd();
      if (b < 0) {
        throw new DataIntegrityException(
            String.format(
                Locale.ROOT,
                "%s: file truncated: gzip member %d's 8-byte trailer (CRC32, ISIZE) starts at"
                    + " compressed offset %d, but the file ends at %d",
                source,
                members,
                at,
                at + i));
      }
      t[i] = (byte) b;
    }
    long storedCrc = le32(t, 0);
    long storedSize = le32(t, 4);
    long actualCrc = crc.getValue();
    if (storedCrc != actualCrc) {
      throw new DataIntegrityException(
          String.format(
              Locale.ROOT,
              "%s: gzip member %d is corrupt: the CRC32 of its %d decompressed bytes is 0x%08x,"
                  + " its trailer (compressed offset %d) says 0x%08x; the file is damaged, copy"
                  + " or download it again",
              source,
              members,
              memberSize,
              actualCrc,
              at,
              storedCrc));
    }
    if (storedSize != (memberSize & 0xFFFFFFFFL)) {
      throw new DataIntegrityException(
          String.format(
              Locale.ROOT,
              "%s: gzip member %d is corrupt: it decompresses to %d bytes, but its trailer"
                  + " (compressed offset %d) gives ISIZE %d (the length mod 2^32); the file is"
                  + " damaged, copy or download it again",
              source,
              members,
              memberSize,
              at + 4,
              storedSize));
    }
  }

  /** After a member: only zero bytes may follow, up to the end of the file. */
  private void skipZeroPadding(long at) {
    while (true) {
      int b = readByteOrEnd();
      if (b < 0) {
        return;
      }
      if (b != 0) {
        throw new DataIntegrityException(
            String.format(
                Locale.ROOT,
                "%s: unexpected byte 0x%02x at compressed offset %d in the zero padding that"
                    + " starts at %d after gzip member %d; the file is damaged or has data"
                    + " appended",
                source,
                b,
                offset() - 1,
                at,
                members));
      }
    }
  }

  private int headerByte() {
    int b = readByteOrEnd();
    if (b < 0) {
      throw new DataIntegrityException(
          String.format(
              Locale.ROOT,
              "%s: file truncated: it ends at compressed offset %d inside the header of gzip"
                  + " member %d (which starts at %d)",
              source,
              offset(),
              members,
              memberStart));
    }
    if (inHeader) {
      headerCrc.update(b);
    }
    return b;
  }

  private long offset() {
    return bufStart + pos;
  }

  private int readByteOrEnd() {
    if (pos == limit && fill() <= 0) {
      return -1;
    }
    return buf[pos++] & 0xFF;
  }

  /** Moves the unread bytes to the front and reads more; the number read, or -1 at the end. */
  private int fill() {
    if (pos > 0) {
      System.arraycopy(buf, pos, buf, 0, limit - pos);
      bufStart += pos;
      limit -= pos;
      pos = 0;
    }
    try {
      int n = in.read(buf, limit, buf.length - limit);
      if (n > 0) {
        limit += n;
      }
      return n;
    } catch (IOException e) {
      throw new DataFormatException(
          source + " compressed offset " + (bufStart + limit) + ": cannot read: " + e, e);
    }
  }

  private static long le32(byte[] b, int at) {
    return (b[at] & 0xFFL)
        | (b[at + 1] & 0xFFL) << 8
        | (b[at + 2] & 0xFFL) << 16
        | (b[at + 3] & 0xFFL) << 24;
  }

  private static String hex(int b0, int b1) {
    if (b0 < 0) {
      return "the end of the file";
    }
    return b1 < 0
        ? String.format(Locale.ROOT, "%02x and then the end of the file", b0)
        : String.format(Locale.ROOT, "%02x %02x", b0, b1);
  }

  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      inflater.end();
      in.close();
    }
  }
}
