package io.spindle.worker;

import io.spindle.compress.GradientLayout;
import io.spindle.data.MiniBatch;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The one network-type-specific seam of training: a replica of the model that, asked for a batch,
 * computes the loss and the gradient summed over the batch's examples into its flat gradient
 * vector. The sync strategies, the collective engine and the global step see only this and flat
 * vectors; {@link MultiLayerReplica} holds a DL4J {@code MultiLayerNetwork}, and a graph network
 * ({@code ComputationGraph}) would be one more implementation of these methods.
 *
 * <p>Call order per step: {@link #params()} receives the step's parameters (copied in), {@link
 * #computeGradient} runs forward and backward, then {@link #gradient()} and {@link
 * #correctOfLastForward()} are read before the next call. A replica is used by one task at a time
 * ({@link NetworkPool}).
 */
public interface TrainableNetwork {
  /** The live flat parameter vector (writing into it changes the network). */
  INDArray params();

  /** Which entries are weights, raw-update statistics and max-norm units ({@code GlobalStep}). */
  ParameterRules rules();

  /**
   * The flat gradient's tensors (which ranges are weight matrices), for the compressed gradient
   * exchanges of the collective engine.
   */
  GradientLayout gradientLayout();

  /**
   * Forward and backward pass over {@code batch} with the dropout masks (and corruption) of {@code
   * key}; leaves the gradient summed over the batch's examples in {@link #gradient()} (batch-norm
   * statistics as their update times the batch size, see {@code RawUpdateRanges}) and returns the
   * batch's mean loss.
   */
  double computeGradient(MiniBatch batch, StepKey key);

  /** The live flat gradient vector of the last {@link #computeGradient}. */
  INDArray gradient();

  /** Correct predictions of the last training forward pass (0 for an autoencoder). */
  long correctOfLastForward();

  /** Test-set figures of {@code batch} at the current parameters: correct count, summed loss. */
  Evaluation evaluate(MiniBatch batch);

  /**
   * The precision this replica's products computed in so far: its parameters' type, unless its
   * kernels compute in another one (bf16 products on float32 parameters, where this JVM's CPU makes
   * them pay: {@code Bf16Products}).
   */
  default io.spindle.config.Precision computePrecision() {
    return params().dataType() == org.nd4j.linalg.api.buffer.DataType.DOUBLE
        ? io.spindle.config.Precision.FLOAT64
        : io.spindle.config.Precision.FLOAT32;
  }
}
