package io.spindle.driver;

/** The Spark cluster cannot be reached (exit code 5, like any Spark failure). */
public final class ClusterUnreachableException extends RuntimeException {
  public ClusterUnreachableException(String message) {
    super(message);
  }
}
