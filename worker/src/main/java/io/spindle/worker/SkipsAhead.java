package io.spindle.worker;

/**
 * An iterator over a worker's step-ordered batches that can be told which step its consumer wants
 * next, so that it does no costly work (augmentation) on the batches its consumer will only skip. A
 * hint: batches before that step are still returned, untransformed.
 */
public interface SkipsAhead {
  /** The consumer will skip every batch of a step before {@code step}. */
  void skipTo(int step);
}
