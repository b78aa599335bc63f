package io.spindle.model;

import io.spindle.config.Activation;
import io.spindle.config.ConfigException;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SelfAttentionLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
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

  /**
   * The DL4J configuration for {@code numInputs} input features. Deterministic given the seed. The
   * input shape ({@link ModelConfig#inputFor}) is given to DL4J as its input type, so DL4J infers
   * every layer's input size and adds the reshaping between image, sequence and flat layers; a
   * sequence input is reshaped by {@link SequenceReshapePreProcessor}.
   */
  public static MultiLayerConfiguration configuration(ModelConfig model, int numInputs, long seed) {
    if (numInputs <= 0) {
      throw new ConfigException("numInputs must be > 0, got " + numInputs);
    }
    if (model.isGraph()) {
      throw new ConfigException(
          "model.layers: a graph model (named inputs, add, concat or shortcut layers) builds a"
              + " ComputationGraph (GraphFactory), not a MultiLayerNetwork");
    }
    InputConfig input = model.inputFor(numInputs);
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
    List<Layer> layers = new ArrayList<>();
    for (LayerConfig layer : model.layers()) {
      if (layer.type() == LayerType.LAST_TIME_STEP) {
        // ModelConfig checked that an lstm or simple_rnn layer comes just before
        layers.set(layers.size() - 1, new LastTimeStep(layers.get(layers.size() - 1)));
      } else {
        layers.add(layer(layer, input));
      }
    }
    for (int i = 0; i < layers.size(); i++) {
      list.layer(i, layers.get(i));
    }
    switch (input.type()) {
      case FLAT -> list.setInputType(InputType.feedForward(numInputs));
      case IMAGE ->
          list.setInputType(
              InputType.convolutionalFlat(input.height(), input.width(), input.channels()));
      case SEQUENCE -> {
        list.setInputType(InputType.feedForward(numInputs));
        list.inputPreProcessor(0, new SequenceReshapePreProcessor(input.steps(), input.features()));
      }
      default -> throw new IllegalStateException("unknown input " + input.type());
    }
    list.overrideNinUponBuild(false); // keeps an embedding layer's vocabulary as its nIn
    MultiLayerConfiguration conf = list.build();
    for (NeuralNetConfiguration c : conf.getConfs()) {
      // batch normalisation's scale and shift are not weights: no L1/L2 on them
      if (c.getLayer() instanceof BatchNormalization bn) {
        bn.setRegularization(new ArrayList<>());
        bn.setRegularizationBias(new ArrayList<>());
      }
    }
    return conf;
  }

  /** The DL4J layer of {@code layer} (not for the graph-only add, concat and shortcut). */
  static Layer layer(LayerConfig layer, InputConfig input) {
    Layer.Builder<?> b =
        switch (layer.type()) {
          case DENSE -> new DenseLayer.Builder().nOut(layer.units()).hasBias(layer.hasBias());
          case OUTPUT -> new OutputLayer.Builder(loss(layer.loss())).nOut(layer.units());
          case CONV2D ->
              new ConvolutionLayer.Builder(layer.kernel(), layer.kernel())
                  .stride(layer.stride(), layer.stride())
                  .padding(layer.padding(), layer.padding())
                  .hasBias(layer.hasBias())
                  .nOut(layer.filters());
          case MAX_POOL, AVG_POOL ->
              new SubsamplingLayer.Builder(
                      layer.type() == LayerType.MAX_POOL
                          ? SubsamplingLayer.PoolingType.MAX
                          : SubsamplingLayer.PoolingType.AVG)
                  .kernelSize(layer.kernel(), layer.kernel())
                  .stride(layer.stride(), layer.stride())
                  .padding(layer.padding(), layer.padding());
          case BATCH_NORM -> new BatchNormalization.Builder();
          case DROPOUT -> new DropoutLayer.Builder(1.0 - layer.dropout());
          case LSTM -> new LSTM.Builder().nOut(layer.units());
          case SIMPLE_RNN -> new SimpleRnn.Builder().nOut(layer.units());
          case GLOBAL_AVG_POOL -> new GlobalPoolingLayer.Builder(PoolingType.AVG);
          case GLOBAL_MAX_POOL -> new GlobalPoolingLayer.Builder(PoolingType.MAX);
          case EMBEDDING ->
              new EmbeddingSequenceLayer.Builder()
                  .nIn(layer.vocabulary())
                  .nOut(layer.units())
                  .inputLength(input.steps())
                  .hasBias(false);
          case SELF_ATTENTION ->
              new SelfAttentionLayer.Builder()
                  .nOut(layer.units())
                  .nHeads(layer.heads())
                  .headSize(layer.units() / layer.heads())
                  .projectInput(true);
          case ACTIVATION -> new ActivationLayer.Builder();
          case LAST_TIME_STEP -> throw new IllegalStateException("wraps the layer before it");
          case ADD, CONCAT, SHORTCUT ->
              throw new IllegalStateException(layer.type() + " is a graph vertex, not a layer");
        };
    if (layer.activation() != null && b instanceof BaseLayer.Builder<?> base) {
      base.activation(activation(layer.activation()));
    }
    if (layer.activation() != null && b instanceof ActivationLayer.Builder a) {
      a.activation(activation(layer.activation()));
    }
    if (layer.name() != null) {
      b.name(layer.name());
    }
    if (layer.dropout() > 0 && layer.type() != LayerType.DROPOUT) {
      b.dropOut(1.0 - layer.dropout()); // DL4J takes the retain probability
    }
    return b.build();
  }

  /**
   * A new, initialised network whose ReLU and identity dense layers reuse their forward output in
   * the backward pass ({@link ActivationReusingDenseLayer}) and whose self-attention layers report
   * true gradients ({@link HalvedErrorSameDiffLayer}), whose convolution, pooling and batch-norm
   * layers run on oneDNN where the native library has it ({@link OneDnnKernels}), whose dropout
   * draws its masks from an explicit {@link StepKey} ({@link KeyedDropout}), and whose output layer
   * trains on smoothed labels when asked ({@link LabelSmoothing}); its configuration and parameters
   * are DL4J's own.
   */
  public static MultiLayerNetwork create(ModelConfig model, int numInputs, long seed) {
    MultiLayerNetwork net = createStock(model, numInputs, seed);
    ActivationReusingDenseLayer.install(net);
    HalvedErrorSameDiffLayer.install(net);
    OneDnnKernels.install(net);
    LabelSmoothing.install(net.getOutputLayer(), model.outputLayer());
    KeyedDropout.install(net);
    return net;
  }

  /**
   * A new, initialised network exactly as DL4J builds it (its dropout draws from ND4J's
   * process-wide generator, as in DL4J's own {@code fit()}), except that batch-norm layers with
   * {@code zeroGamma} start with their scale at 0.
   */
  public static MultiLayerNetwork createStock(ModelConfig model, int numInputs, long seed) {
    MultiLayerNetwork net = new MultiLayerNetwork(configuration(model, numInputs, seed));
    net.init();
    int index = 0; // DL4J's layer index: last_time_step wraps the layer before it
    for (LayerConfig layer : model.layers()) {
      if (layer.type() == LayerType.LAST_TIME_STEP) {
        continue;
      }
      if (layer.zeroGamma()) {
        net.getLayer(index)
            .getParam(org.deeplearning4j.nn.params.BatchNormalizationParamInitializer.GAMMA)
            .assign(0);
      }
      index++;
    }
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
      case LEAKY_RELU -> new ActivationLReLU(); // slope 0.01 below zero, DL4J's default
    };
  }

  static ILossFunction loss(Loss loss) {
    return switch (loss) {
      case CROSS_ENTROPY -> new LossMCXENT();
      case MSE -> new LossMSE();
      case BINARY_CROSS_ENTROPY -> new LossBinaryXENT();
    };
  }
}
