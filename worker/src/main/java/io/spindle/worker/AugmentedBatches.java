package io.spindle.worker;

import io.spindle.data.EpochPlan;
import io.spindle.data.ImageAugmentation;
import io.spindle.data.MiniBatch;
import java.util.Iterator;

/**
 * A worker's batches of one epoch, augmented ({@link ImageAugmentation#train}) as they are pulled:
 * wrapped by the worker's {@link PrefetchIterator}, this runs on the prefetch thread, overlapping
 * with the compute of earlier steps. The data-set index of each row, which keys its draws, comes
 * from the epoch's {@link EpochPlan}: row {@code r} of worker {@code w}'s share of step {@code s}
 * is the example at position {@code s * batchSize + sliceStart(s, w) + r}.
 */
public final class AugmentedBatches implements Iterator<MiniBatch>, SkipsAhead {
  private final Iterator<MiniBatch> source;
  private final ImageAugmentation augmentation;
  private final EpochPlan plan;
  private final int epoch;
  private final int worker;
  private volatile int skipTo;

  public AugmentedBatches(
      Iterator<MiniBatch> source,
      ImageAugmentation augmentation,
      EpochPlan plan,
      int epoch,
      int worker) {
    this.source = source;
    this.augmentation = augmentation;
    this.plan = plan;
    this.epoch = epoch;
    this.worker = worker;
  }

  @Override
  public boolean hasNext() {
    return source.hasNext();
  }

  @Override
  public MiniBatch next() {
    MiniBatch batch = source.next();
    if (batch.step() < skipTo) {
      return batch; // the consumer skips it
    }
    int step = batch.step();
    return augmentation.train(batch, epoch, row -> plan.exampleAt(step, worker, row));
  }

  @Override
  public void skipTo(int step) {
    skipTo = step;
  }
}
