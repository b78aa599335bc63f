package io.spindle.worker;

import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.model.ModelFactory;
import io.spindle.model.Reconstruction;
import java.io.Serializable;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Everything an executor needs to build its replica of the network and its optimiser. Shipped in
 * task closures (Java serialisation); networks built from equal specs are interchangeable.
 *
 * @param model the layers
 * @param optimizer the optimiser, resolved ({@code OptimizerConfig.resolve}): every global step
 *     applies it, on the driver or on the workers
 * @param numInputs features per example
 * @param numClasses classes of the labels
 * @param seed initialisation seed
 * @param threads ND4J threads per worker
 * @param reconstruction null for a classifier; for an autoencoder (layer-wise pre-training) the
 *     corruption and loss: the label of each example is then its own clean input
 */
public record ModelSpec(
    ModelConfig model,
    OptimizerConfig optimizer,
    int numInputs,
    int numClasses,
    long seed,
    int threads,
    Reconstruction reconstruction)
    implements Serializable {
  /** A classifier's spec. */
  public ModelSpec(
      ModelConfig model,
      OptimizerConfig optimizer,
      int numInputs,
      int numClasses,
      long seed,
      int threads) {
    this(model, optimizer, numInputs, numClasses, seed, threads, null);
  }

  public ModelSpec {
    if (reconstruction != null && (numClasses != numInputs)) {
      throw new IllegalArgumentException(
          "an autoencoder reconstructs its "
              + numInputs
              + " inputs, so its output must have "
              + numInputs
              + " units, got "
              + numClasses);
    }
    if (model.outputLayer().units() != numClasses) {
      throw new IllegalArgumentException(
          "model.layers: the output layer has "
              + model.outputLayer().units()
              + " units, but the data set has "
              + numClasses
              + " classes");
    }
  }

  /**
   * A new, initialised replica of this spec's network (with the reconstruction loss of an
   * autoencoder): the one place that chooses the network type.
   */
  public TrainableNetwork newNetwork() {
    return model.isGraph() ? new GraphReplica(this) : new MultiLayerReplica(this);
  }

  public DataType dataType() {
    return ModelFactory.dataType(model.precision());
  }
}
