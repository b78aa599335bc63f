package io.spindle.data;

/**
 * A data file that cannot be used: wrong magic number, truncated, corrupt, a label out of range, a
 * checksum mismatch. The message names the file and, where it applies, the byte offset.
 */
public class DataFormatException extends RuntimeException {
  public DataFormatException(String message) {
    super(message);
  }

  public DataFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
