package io.spindle.driver.cli;

/** Exit codes of the {@code spindle} command, for schedulers. */
public enum ExitCode {
  /** The run finished; summary.json is complete. */
  SUCCESS(0),
  /** An unexpected internal error. */
  INTERNAL_ERROR(1),
  /** Bad command line or configuration (unknown key, bad value, missing file). */
  BAD_CONFIG(2),
  /** Bad or unreachable data (checksum mismatch, corrupt file, wrong magic, label out of range). */
  BAD_DATA(3),
  /** The loss became NaN or infinite. */
  DIVERGED(4),
  /** Spark failed (a job was aborted, the cluster could not be reached). */
  CLUSTER_FAILURE(5);

  private final int code;

  ExitCode(int code) {
    this.code = code;
  }

  public int code() {
    return code;
  }
}
