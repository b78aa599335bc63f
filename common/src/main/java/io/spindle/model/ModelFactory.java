package io.spindle.model;

import io.spindle.config.Activation;
import io.spindle.config.ConfigException;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;

/**
 * Builds a DL4J {@link MultiLayerNetwork} from a {@link ModelConfig}.
 *
 * <p>The network's own updater is {@link NoOp}: Spindle never calls {@code fit()}; it asks the
 * network for the gradient of the loss on a batch and applies its own global optimiser to the flat
 * parameter vector ({@code io.spindle.optim.FlatOptimizer}). L1/L2 coefficients are set on the DL4J
 * layers so the reported score and the saved model carry them; their gradient terms are added by
 * {@link Regularization}, because DL4J applies them inside its updater, which Spindle bypasses.
 */
public final class ModelFactory {
  private ModelFactory() {}

  /** The DL4J configuration for {@code numInputs} input features. Deterministic given the seed. */
  public static MultiLayerConfiguration configuration(ModelConfig model, int numInputs, long seed) {
    if (numInputs <= 0) {
      throw new ConfigException("numInputs must be > 0, got " + numInputs);
    }
    NeuralNetConfiguration.ListBuilder list =
        new NeuralNetConfiguration.Builder()
            .seed(seed)
            .dataType(dataType(model.precision()))
            .updater(new NoOp())
            .weightInit(weightInit(model.weightInit()))
            .biasInit(0.0)
            .l1(model.l1())
            .l2(model.l2())
            .l1Bias(0.0)
            .l2Bias(0.0)
            .list();
    int in = numInputs;
    for (int i = 0; i < model.layers().size(); i++) {
      LayerConfig layer = model.layers().get(i);
      if (layer.type() == LayerType.DENSE) {
        DenseLayer.Builder b =
            new DenseLayer.Builder()
                .nIn(in)
                .nOut(layer.units())
                .activation(activation(layer.activation()));
        if (layer.dropout() > 0) {
          b.dropOut(1.0 - layer.dropout()); // DL4J takes the retain probability
        }
        list.layer(i, b.build());
      } else {
        OutputLayer.Builder b =
            new OutputLayer.Builder(loss(layer.loss()))
                .nIn(in)
                .nOut(layer.units())
                .activation(activation(layer.activation()));
        if (layer.dropout() > 0) {
          b.dropOut(1.0 - layer.dropout());
        }
        list.layer(i, b.build());
      }
      in = layer.units();
    }
    return list.build();
  }

  /**
   * A new, initialised network whose ReLU and identity dense layers reuse their forward output in
   * the backward pass ({@link ActivationReusingDenseLayer}); its configuration, parameters and
   * gradients are DL4J's own.
   */
  public static MultiLayerNetwork create(ModelConfig model, int numInputs, long seed) {
    MultiLayerNetwork net = createStock(model, numInputs, seed);
    ActivationReusingDenseLayer.install(net);
    return net;
  }

  /** A new, initialised network exactly as DL4J builds it. */
  public static MultiLayerNetwork createStock(ModelConfig model, int numInputs, long seed) {
    MultiLayerNetwork net = new MultiLayerNetwork(configuration(model, numInputs, seed));
    net.init();
    return net;
  }

  public static DataType dataType(Precision precision) {
    return precision == Precision.FLOAT64 ? DataType.DOUBLE : DataType.FLOAT;
  }

  static org.deeplearning4j.nn.weights.WeightInit weightInit(io.spindle.config.WeightInit w) {
    return switch (w) {
      case XAVIER_UNIFORM -> org.deeplearning4j.nn.weights.WeightInit.XAVIER_UNIFORM;
      case XAVIER_NORMAL -> org.deeplearning4j.nn.weights.WeightInit.XAVIER;
      case HE_UNIFORM -> org.deeplearning4j.nn.weights.WeightInit.RELU_UNIFORM;
      case HE_NORMAL -> org.deeplearning4j.nn.weights.WeightInit.RELU;
      case LECUN_UNIFORM -> org.deeplearning4j.nn.weights.WeightInit.LECUN_UNIFORM;
      case LECUN_NORMAL -> org.deeplearning4j.nn.weights.WeightInit.LECUN_NORMAL;
    };
  }

  static IActivation activation(Activation a) {
    return switch (a) {
      case RELU -> new ActivationReLU();
      case TANH -> new ActivationTanH();
      case SIGMOID -> new ActivationSigmoid();
      case IDENTITY -> new ActivationIdentity();
      case SOFTMAX -> new ActivationSoftmax();
    };
  }

  static ILossFunction loss(Loss loss) {
    return switch (loss) {
      case CROSS_ENTROPY -> new LossMCXENT();
      case MSE -> new LossMSE();
    };
  }
}
