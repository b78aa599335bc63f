package io.spindle.worker;

import io.spindle.data.MiniBatch;
import java.util.Iterator;

/**
 * A worker's step-ordered partition of an epoch, read from a given step on: the one place that
 * skips the steps already done (a round that starts mid-epoch) and checks that every batch is the
 * step it should be, so a partition out of order fails loudly instead of training on the wrong
 * examples.
 */
public final class StepCursor {
  private final Iterator<MiniBatch> partition;
  private int next;

  /**
   * Skips the batches of steps {@code 0..firstStep-1}; a partition that prepares batches ahead
   * ({@link SkipsAhead}: augmentation in the prefetch thread) is told first, so it hands the
   * skipped batches back unprepared.
   */
  public StepCursor(Iterator<MiniBatch> partition, int firstStep) {
    this.partition = partition;
    if (firstStep > 0 && partition instanceof SkipsAhead s) {
      s.skipTo(firstStep);
    }
    while (next < firstStep) {
      take();
    }
  }

  /** The step of the batch {@link #next()} returns. */
  public int step() {
    return next;
  }

  /** The batch of the next step. */
  public MiniBatch next() {
    return take();
  }

  private MiniBatch take() {
    if (!partition.hasNext()) {
      throw new IllegalStateException(
          "worker partition ends before the batch of step " + next + " of the epoch");
    }
    MiniBatch batch = partition.next();
    if (batch.step() != next) {
      throw new IllegalStateException(
          "worker partition out of order: expected the batch of step "
              + next
              + ", found step "
              + batch.step());
    }
    next++;
    return batch;
  }
}
