package io.spindle.worker.collective;

/** A ring neighbour could not prove it belongs to this job, or refused this task's proof. */
public class PeerAuthenticationException extends CollectiveException {
  public PeerAuthenticationException(String message) {
    super(message);
  }

  public PeerAuthenticationException(String message, Throwable cause) {
    super(message, cause);
  }
}
