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
 *   <li>{@code activation}: any shape, kept; applies its {@code activation} function
 *   <li>{@code add}, {@code concat} (graph models): merge two or more {@code inputs}; {@code add}
 *       sums inputs of equal shape, {@code concat} stacks them along channels (image) or features
 *       (flat)
 *   <li>{@code shortcut} (graph models): He et al.'s parameter-free "option A" shortcut, image to
 *       image: every {@code stride}-th row and column, channels zero-padded to {@code filters}
 * </ul>
 *
 * <p>A model whose layers name {@code inputs}, or that holds an {@code add}, {@code concat} or
 * {@code shortcut} layer, is a graph (see {@link ModelConfig}); any other list is a plain stack.
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
  SELF_ATTENTION,
  ACTIVATION,
  ADD,
  CONCAT,
  SHORTCUT;

  /** Whether the layer merges several inputs ({@code add}, {@code concat}). */
  public boolean isMerge() {
    return this == ADD || this == CONCAT;
  }

  /** Whether the layer exists only in graph models. */
  public boolean graphOnly() {
    return isMerge() || this == SHORTCUT;
  }

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
      case DENSE, OUTPUT, CONV2D, LSTM, SIMPLE_RNN, ACTIVATION -> true;
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
