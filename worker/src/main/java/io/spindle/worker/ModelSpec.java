package io.spindle.worker;

import io.spindle.config.ConfigException;
import io.spindle.config.Kernels;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.model.ModelFactory;
import io.spindle.model.Reconstruction;
import io.spindle.model.fast.FastPath;
import io.spindle.runtime.Nd4jRuntime;
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
 * @param accumulate micro-batches per worker share ({@code training.accumulate}; 1 = none): the
 *     replica is wrapped in an {@link AccumulatingNetwork}
 */
public record ModelSpec(
    ModelConfig model,
    OptimizerConfig optimizer,
    int numInputs,
    int numClasses,
    long seed,
    int threads,
    Reconstruction reconstruction,
    int accumulate)
    implements Serializable {
  /** A spec without gradient accumulation. */
  public ModelSpec(
      ModelConfig model,
      OptimizerConfig optimizer,
      int numInputs,
      int numClasses,
      long seed,
      int threads,
      Reconstruction reconstruction) {
    this(model, optimizer, numInputs, numClasses, seed, threads, reconstruction, 1);
  }

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
    if (accumulate < 1) {
      throw new IllegalArgumentException("accumulate must be >= 1, got " + accumulate);
    }
    if (reconstruction != null && (numClasses != numInputs)) {
      throw new IllegalArgumentException(
          "an autoencoder reconstructs its "
              + numInputs
              + " inputs, so its output must have "
              + numInputs
              + " units, got "
              + numClasses);
    }
    if (model.kernels() == Kernels.FAST) {
      String why =
          reconstruction != null
              ? "layer-wise pre-training trains autoencoders, which the fast kernels do not cover"
              : FastPath.unsupported(model, numInputs);
      if (why != null) {
        throw new ConfigException(
            "model.kernels is fast, but " + why + "; set model.kernels: auto");
      }
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
   * autoencoder): the one place that chooses the network type and the code that computes it ({@code
   * model.kernels}): a {@link FastReplica} where the fast kernels cover every layer on this JVM's
   * backend, DL4J's layers ({@link MultiLayerReplica}, {@link GraphReplica} for a graph model)
   * otherwise or with {@code kernels: dl4j}. Both start from the same parameters. With {@code
   * accumulate} > 1 the replica computes each share in micro-batches ({@link AccumulatingNetwork}).
   */
  public TrainableNetwork newNetwork() {
    if (!usesFastKernels()) {
      io.spindle.model.fast.Bf16Products.effective(model, false); // bf16: warns, float32
    }
    TrainableNetwork net =
        model.isGraph()
            ? usesFastKernels() ? FastReplica.ofGraph(this) : new GraphReplica(this)
            : usesFastKernels() ? new FastReplica(this) : new MultiLayerReplica(this);
    return accumulate > 1 ? new AccumulatingNetwork(net, accumulate) : net;
  }

  /** The same spec computing each share in {@code k} micro-batches. */
  public ModelSpec withAccumulate(int k) {
    return new ModelSpec(model, optimizer, numInputs, numClasses, seed, threads, reconstruction, k);
  }

  /**
   * Whether {@link #newNetwork} builds the fast kernels on this JVM; {@code kernels: fast} on a
   * backend without them (CUDA, a native build without oneDNN) is an error.
   */
  public boolean usesFastKernels() {
    if (model.kernels() == Kernels.DL4J
        || reconstruction != null
        || FastPath.unsupported(model, numInputs) != null) {
      return false;
    }
    if (!Nd4jRuntime.hasOneDnn()) {
      if (model.kernels() == Kernels.FAST) {
        throw new IllegalStateException(
            "model.kernels is fast, but the fast kernels need ND4J's CPU backend with oneDNN"
                + " (nd4j-native, onednn build), which this JVM did not load; set model.kernels:"
                + " auto");
      }
      return false;
    }
    return true;
  }

  public DataType dataType() {
    return ModelFactory.dataType(model.precision());
  }
}
