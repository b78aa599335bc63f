package io.spindle.worker.collective;

/**
 * The collective engine cannot go on: a peer mismatched (shape, step, model version), failed to
 * authenticate, timed out or went away. Spark then relaunches the barrier stage.
 */
public class CollectiveException extends RuntimeException {
  public CollectiveException(String message) {
    super(message);
  }

  public CollectiveException(String message, Throwable cause) {
    super(message, cause);
  }
}
