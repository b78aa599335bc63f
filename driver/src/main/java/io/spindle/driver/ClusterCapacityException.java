package io.spindle.driver;

/**
 * The cluster does not offer what the run needs at once (task slots for a barrier stage) within the
 * configured wait: exit code 5, like any Spark failure. The message says what was missing.
 */
public final class ClusterCapacityException extends RuntimeException {
  public ClusterCapacityException(String message) {
    super(message);
  }
}
