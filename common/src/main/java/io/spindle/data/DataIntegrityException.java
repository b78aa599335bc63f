package io.spindle.data;

/**
 * A file whose content does not match its own checksum or declared length (a gzip member's CRC32 or
 * ISIZE, a corrupt or truncated compressed stream, bytes after the last gzip member), or that
 * changed while the run read it. No single record can be blamed, so {@code data.skipBadRecords}
 * never skips it: the run stops with exit code 3. The message names the file.
 */
public class DataIntegrityException extends DataFormatException {
  public DataIntegrityException(String message) {
    super(message);
  }

  public DataIntegrityException(String message, Throwable cause) {
    super(message, cause);
  }
}
