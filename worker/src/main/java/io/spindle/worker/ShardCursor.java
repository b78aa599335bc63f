package io.spindle.worker;

import io.spindle.data.MiniBatch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * A worker's step-ordered data in a round where it trains on {@code shards} consecutive logical
 * shards ({@link io.spindle.data.ShardAssignment}): its partition holds, step by step, one batch
 * per shard in shard order ({@code (t, s1), (t, s2), (t + 1, s1), ...}), from some step on. The
 * cursor skips the steps before the round's first, then hands out each step's batches and checks
 * that every one is of the step it should be, so a partition out of order fails loudly instead of
 * training on the wrong examples. With one shard it reads what {@link StepCursor} reads.
 */
public final class ShardCursor {
  private final Iterator<MiniBatch> partition;
  private final int shards;
  private MiniBatch pending;
  private int next;

  /**
   * @param firstStep the first step to hand out; batches of earlier steps are skipped (a partition
   *     that prepares batches ahead, {@link SkipsAhead}: augmentation in the prefetch thread, is
   *     told first, so it hands the skipped batches back unprepared)
   * @param shards batches per step (the worker's shards)
   */
  public ShardCursor(Iterator<MiniBatch> partition, int firstStep, int shards) {
    if (shards < 1) {
      throw new IllegalArgumentException("a worker trains on at least one shard, got " + shards);
    }
    if (firstStep > 0 && partition instanceof SkipsAhead s) {
      s.skipTo(firstStep);
    }
    this.partition = partition;
    this.shards = shards;
    this.next = firstStep;
    while (partition.hasNext()) {
      MiniBatch b = partition.next();
      if (b.step() >= firstStep) {
        pending = b;
        break;
      }
    }
  }

  /** The step of the batches {@link #next()} returns. */
  public int step() {
    return next;
  }

  /** The batches of the next step, one per shard in shard order. */
  public List<MiniBatch> next() {
    List<MiniBatch> out = shards == 1 ? null : new ArrayList<>(shards);
    MiniBatch only = null;
    for (int i = 0; i < shards; i++) {
      MiniBatch b = take(i);
      if (out == null) {
        only = b;
      } else {
        out.add(b);
      }
    }
    next++;
    return out == null ? Collections.singletonList(only) : out;
  }

  private MiniBatch take(int shard) {
    MiniBatch b = pending;
    pending = null;
    if (b == null && partition.hasNext()) {
      b = partition.next();
    }
    if (b == null) {
      throw new IllegalStateException(
          "worker partition ends before the batch of shard "
              + shard
              + " of "
              + shards
              + " of step "
              + next
              + " of the epoch");
    }
    if (b.step() != next) {
      throw new IllegalStateException(
          "worker partition out of order: expected the batch of shard "
              + shard
              + " of "
              + shards
              + " of step "
              + next
              + ", found step "
              + b.step());
    }
    return b;
  }
}
