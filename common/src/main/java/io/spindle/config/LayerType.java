package io.spindle.config;

/**
 * Kinds of layer. The last layer of a model must be an {@code output} layer.
 *
 * <p>What each layer reads and writes (flat = one vector per example, image = channels x height x
 * width, sequence = features x steps):
 *
 * <ul>
 *   <li>{@code dense}: flat (an image is flattened) to flat
 *   <li>{@code output}: flat (an image is flattened) to class scores; the last layer
 *   <li>{@code conv2d}, {@code max_pool}, {@code avg_pool}: image to image
 *   <li>{@code batch_norm}, {@code dropout}: flat or image, shape kept ({@code dropout} also takes
 *       sequences)
 *   <li>{@code lstm}, {@code simple_rnn}, {@code self_attention}: sequence to sequence
 *   <li>{@code last_time_step}: the last step of the sequence of the {@code lstm} or {@code
 *       simple_rnn} layer just before it, as a flat vector
 *   <li>{@code global_avg_pool}, {@code global_max_pool}: image or sequence to flat (over space or
 *       time)
 *   <li>{@code embedding}: a sequence of token ids (one feature per step) to a sequence of vectors
 * </ul>
 */
public enum LayerType implements ConfigEnum {
  DENSE,
  OUTPUT,
  CONV2D,
  MAX_POOL,
  AVG_POOL,
  BATCH_NORM,
  DROPOUT,
  LSTM,
  SIMPLE_RNN,
  LAST_TIME_STEP,
  GLOBAL_AVG_POOL,
  GLOBAL_MAX_POOL,
  EMBEDDING,
  SELF_ATTENTION;

  /** Whether the layer has a configurable number of outputs ({@code units}). */
  boolean hasUnits() {
    return switch (this) {
      case DENSE, OUTPUT, LSTM, SIMPLE_RNN, EMBEDDING, SELF_ATTENTION -> true;
      default -> false;
    };
  }

  /** Whether the layer applies an activation function of its own. */
  boolean hasActivation() {
    return switch (this) {
      case DENSE, OUTPUT, CONV2D, LSTM, SIMPLE_RNN -> true;
      default -> false;
    };
  }

  /** Whether {@code kernel}, {@code stride} and {@code padding} apply. */
  boolean isWindowed() {
    return this == CONV2D || this == MAX_POOL || this == AVG_POOL;
  }

  /** Whether a {@code dropout} rate on the layer's input is allowed. */
  boolean allowsDropout() {
    return switch (this) {
      case DENSE, OUTPUT, CONV2D, LSTM, SIMPLE_RNN, DROPOUT -> true;
      default -> false;
    };
  }
}
