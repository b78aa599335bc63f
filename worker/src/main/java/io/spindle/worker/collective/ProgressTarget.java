package io.spindle.worker.collective;

import java.io.Serializable;

/**
 * Where the tasks of one collective round send their step progress: the driver's {@link
 * ProgressService} for the round, shipped in the task closure.
 *
 * @param endpoint host:port of the service
 * @param round the round's id (its first global iteration)
 * @param secret the round's secret; every frame carries an HMAC-SHA256 under it
 * @param every report after each global step that is a multiple of this (and the round's last)
 */
public record ProgressTarget(String endpoint, long round, byte[] secret, int every)
    implements Serializable {
  public ProgressTarget {
    if (every <= 0) {
      throw new IllegalArgumentException("progress every must be > 0, got " + every);
    }
  }

  /** Whether the step at global iteration {@code iteration} (0-based) is reported. */
  boolean reports(long iteration, boolean lastOfRound) {
    return lastOfRound || (iteration + 1) % every == 0;
  }
}
