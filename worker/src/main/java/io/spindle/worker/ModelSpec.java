package io.spindle.worker;

import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.model.ModelFactory;
import java.io.Serializable;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Everything an executor needs to build its replica of the network and its optimiser. Shipped in
 * task closures (Java serialisation); networks built from equal specs are interchangeable.
 *
 * @param model the layers
 * @param optimizer the optimiser (parameter averaging runs it locally)
 * @param numInputs features per example
 * @param numClasses classes of the labels
 * @param seed initialisation seed
 * @param threads ND4J threads per worker
 */
public record ModelSpec(
    ModelConfig model,
    OptimizerConfig optimizer,
    int numInputs,
    int numClasses,
    long seed,
    int threads)
    implements Serializable {
  public ModelSpec {
    if (model.outputLayer().units() != numClasses) {
      throw new IllegalArgumentException(
          "model.layers: the output layer has "
              + model.outputLayer().units()
              + " units, but the data set has "
              + numClasses
              + " classes");
    }
  }

  public DataType dataType() {
    return ModelFactory.dataType(model.precision());
  }
}
