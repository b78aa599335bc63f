package io.spindle.driver;

import io.spindle.model.MaxNorm;
import io.spindle.model.ModelFactory;
import io.spindle.model.RawUpdateRanges;
import io.spindle.model.Regularization;
import io.spindle.optim.FlatOptimizer;
import io.spindle.worker.ModelSpec;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The one global model on the driver: the flat parameter vector (the driver's own network holds it,
 * so it can be saved with DL4J's ModelSerializer), the global optimiser state and the L1/L2
 * penalty. Sync strategies update it in place.
 */
public final class GlobalModel {
  private final ModelSpec spec;
  private final MultiLayerNetwork net;
  private final FlatOptimizer optimizer;
  private final Regularization regularization;
  private final MaxNorm maxNorm;

  public GlobalModel(ModelSpec spec) {
    this.spec = spec;
    this.net = ModelFactory.create(spec.model(), spec.numInputs(), spec.seed());
    this.optimizer =
        FlatOptimizer.create(spec.optimizer(), net.numParams(), net.params().dataType())
            .rawUpdates(RawUpdateRanges.of(net));
    this.regularization = Regularization.of(net, spec.model().l1(), spec.model().l2());
    this.maxNorm = MaxNorm.of(net, spec.model().maxNorm());
  }

  public ModelSpec spec() {
    return spec;
  }

  /** The live flat parameter vector. */
  public INDArray params() {
    return net.params();
  }

  public FlatOptimizer optimizer() {
    return optimizer;
  }

  /**
   * One global optimiser step from a summed gradient over {@code examples} examples: the mean
   * gradient plus the penalty's gradient, then the optimiser's update at {@code iteration}, then
   * the max-norm constraint.
   */
  public void applyGradientSum(INDArray gradientSum, long examples, long iteration) {
    INDArray g = gradientSum.divi(examples);
    regularization.addGradient(params(), g);
    optimizer.step(params(), g, iteration);
    maxNorm.apply(params());
  }

  /** The driver's network, holding the current parameters. */
  public MultiLayerNetwork network() {
    return net;
  }
}
