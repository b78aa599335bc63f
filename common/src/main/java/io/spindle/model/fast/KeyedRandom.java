package io.spindle.model.fast;

/**
 * Random bits that are a pure function of a key: the same (step, example, stream, counter) gives
 * the same 64 bits in every process, thread and sync mode, whatever else was drawn before. Dropout
 * masks drawn this way depend on the global step and on the example's index in the global batch,
 * not on which worker holds the example or how the batch was cut, so a distributed step and a local
 * one drop the same units.
 *
 * <p>This is the seam to the training step's keyed generator (issue 14): any implementation with
 * this contract serves; {@link SplitMixKeyedRandom} is the one the fast kernels use by default.
 */
public interface KeyedRandom {
  /**
   * The state of one draw: {@link #next} gives its 64-bit values by counter.
   *
   * @param step the 0-based global step
   * @param example the example's index in the step's global batch
   * @param stream which draw of that example (e.g. the layer whose input is dropped)
   */
  long base(long step, long example, int stream);

  /** The 64 random bits at position {@code counter} of the draw whose state is {@code base}. */
  long next(long base, long counter);

  /** {@code next(base(step, example, stream), counter)}. */
  default long bits(long step, long example, int stream, long counter) {
    return next(base(step, example, stream), counter);
  }
}
