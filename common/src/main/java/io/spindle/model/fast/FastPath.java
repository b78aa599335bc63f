package io.spindle.model.fast;

import io.spindle.config.ModelConfig;
import io.spindle.model.StepKey;
import java.util.Optional;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

/**
 * One worker's forward and backward pass without DL4J's layer machinery, over the network's own
 * flat parameter and gradient vectors (prototypes, issue 13): {@link FastDenseNet} for MLPs, {@link
 * FastConvNet} for convolutional networks. In phase 2 a {@code TrainableNetwork} replica built on
 * it replaces DL4J's {@code computeGradientAndScore} where {@link #of} finds a fast path.
 *
 * <p>Contract, as DL4J's: after {@link #computeGradient} the network's flat gradient vector holds
 * the gradient of the loss summed over the batch's examples (batch norm's running statistics as
 * DL4J's raw updates, see {@code RawUpdateRanges}); the return value is the mean loss.
 */
public interface FastPath {
  /**
   * Forward and backward pass over {@code rows} examples with the dropout masks of {@code key} (the
   * same as DL4J's {@code KeyedDropout} draws for it).
   */
  double computeGradient(float[] features, int[] labels, int rows, StepKey key);

  /** Correct predictions of the last forward pass. */
  long correct();

  /** Per-layer forward ({@code [2 l]}) and backward ({@code [2 l + 1]}) nanoseconds, or null. */
  void recordTimes(long[] nanos);

  /**
   * The fast path for {@code model} over {@code net} (built by {@code ModelFactory} from it), for
   * batches of up to {@code maxBatch}, on the CPU backend; empty when there is none.
   */
  static Optional<FastPath> of(
      MultiLayerNetwork net, ModelConfig model, int numInputs, int maxBatch) {
    if (!io.spindle.runtime.Nd4jRuntime.hasOneDnn()) {
      return Optional.empty();
    }
    if (FastDenseNet.supports(model)) {
      return Optional.of(FastDenseNet.of(net, model, maxBatch));
    }
    if (FastConvNet.supports(model, numInputs)) {
      return Optional.of(FastConvNet.of(net, model, numInputs, maxBatch, true));
    }
    return Optional.empty();
  }
}
