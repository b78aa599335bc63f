package io.spindle.driver;

import io.spindle.compress.ExchangeState;
import io.spindle.model.GraphFactory;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterRules;
import io.spindle.optim.GlobalStep;
import io.spindle.worker.ModelSpec;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The one global model on the driver: the flat parameter vector (the driver's own network holds it,
 * so it can be saved with DL4J's ModelSerializer), the {@link GlobalStep} over the whole vector,
 * which holds the global optimiser state, and the state of a lossy gradient exchange (the
 * collective engine's error-feedback residuals and PowerSGD factors, one per worker). Sync
 * strategies update them in place: they apply the step here (gradient sharing) or commit what the
 * workers' steps produced (parameter averaging, the collective engine). Checkpoints hold all three.
 * The network is a {@link MultiLayerNetwork} for a stack of layers and a {@link ComputationGraph}
 * for a graph model; nothing else here depends on which.
 */
public final class GlobalModel {
  private final ModelSpec spec;
  private final Model net;
  private final GlobalStep step;
  private ExchangeState exchangeState;

  public GlobalModel(ModelSpec spec) {
    this.spec = spec;
    ParameterRules rules;
    if (spec.model().isGraph()) {
      ComputationGraph graph = GraphFactory.create(spec.model(), spec.numInputs(), spec.seed());
      rules = ParameterRules.of(graph, spec.model());
      this.net = graph;
    } else {
      MultiLayerNetwork stack = ModelFactory.create(spec.model(), spec.numInputs(), spec.seed());
      rules = ParameterRules.of(stack, spec.model());
      this.net = stack;
    }
    this.step = GlobalStep.create(spec.optimizer(), rules);
  }

  public ModelSpec spec() {
    return spec;
  }

  /** The live flat parameter vector. */
  public INDArray params() {
    return net.params();
  }

  /** The global update over the whole vector, with the global optimiser state. */
  public GlobalStep globalStep() {
    return step;
  }

  /**
   * The committed state of the collective engine's lossy gradient exchange, or null (no lossy
   * compression, or no round has run yet: the workers then start with zero residuals).
   */
  public ExchangeState exchangeState() {
    return exchangeState;
  }

  /** Replaces the exchange state (a committed round, or a resumed checkpoint's); null clears it. */
  public void setExchangeState(ExchangeState state) {
    this.exchangeState = state;
  }

  /**
   * The driver's network, holding the current parameters: a {@link MultiLayerNetwork} or a {@link
   * ComputationGraph} (both save with DL4J's {@code ModelSerializer}).
   */
  public Model network() {
    return net;
  }

  /** The driver's network as a stack of layers; refused for a graph model. */
  public MultiLayerNetwork stack() {
    if (!(net instanceof MultiLayerNetwork stack)) {
      throw new IllegalStateException(
          "expected a stack of layers (MultiLayerNetwork), the model is a graph");
    }
    return stack;
  }
}
