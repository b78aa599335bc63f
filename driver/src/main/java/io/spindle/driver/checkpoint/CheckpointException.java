package io.spindle.driver.checkpoint;

import io.spindle.data.DataFormatException;

/**
 * A checkpoint that cannot be used: no manifest (partial or not a checkpoint), a wrong format or
 * format version, a file missing, truncated or failing its SHA-256. The message names the file.
 */
public class CheckpointException extends DataFormatException {
  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
