package io.spindle.model.fast;

import io.spindle.config.Activation;
import io.spindle.config.InputKind;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import java.util.List;
import java.util.Optional;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

/**
 * One worker's forward and backward pass without DL4J's layer machinery, over the network's own
 * flat parameter and gradient vectors (prototypes, issue 13): {@link FastDenseNet} for MLPs, {@link
 * FastConvNet} for convolutional networks, {@link FastResidualNet} for graph models (residual
 * networks). In phase 2 a {@code TrainableNetwork} replica built on it replaces DL4J's {@code
 * computeGradientAndScore} where {@link #of} finds a fast path.
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

  /**
   * Test-set counts of {@code rows} examples of {@code features} (row-major, from row {@code from})
   * in inference mode, as DL4J's evaluation makes them (correct, top-5 correct, the loss summed
   * over the examples with {@code penalty}, the L1/L2 term of DL4J's score, added per example).
   * Only the paths {@link #forEvaluation} returns evaluate.
   */
  default Evaluation evaluate(float[] features, int from, int[] labels, int rows, double penalty) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " does not evaluate; DL4J's layers do");
  }

  /** Per-layer forward ({@code [2 l]}) and backward ({@code [2 l + 1]}) nanoseconds, or null. */
  void recordTimes(long[] nanos);

  /**
   * The precision the products compute in (a bf16 model's may be float32: {@link Bf16Products}).
   */
  default Precision precision() {
    return Precision.FLOAT32;
  }

  /**
   * Why the fast kernels do not compute {@code model} on {@code numInputs} features, naming the
   * config key and the first layer they do not cover, or null when they cover every layer (the
   * backend is checked by {@link #of}).
   */
  public static String unsupported(ModelConfig model, int numInputs) {
    if (model.precision().storage() != Precision.FLOAT32) {
      return "model.precision is "
          + model.precision().configName()
          + ", the fast kernels compute in float32 (or bf16)";
    }
    if (model.isGraph()) {
      return FastResidualNet.unsupported(model, numInputs);
    }
    InputKind input = model.inputFor(numInputs).type();
    List<LayerConfig> layers = model.layers();
    int i = 0;
    if (input == InputKind.IMAGE) {
      for (; i < layers.size() && FastConvNet.isImageLayer(layers.get(i).type()); i++) {
        LayerConfig c = layers.get(i);
        if (c.type() == LayerType.CONV2D
            && c.activation() != Activation.RELU
            && c.activation() != Activation.IDENTITY) {
          return at(i, c) + "has activation " + c.activation().configName() + " (relu or identity)";
        }
        if (c.type() == LayerType.CONV2D && c.dropout() != 0) {
          return at(i, c) + "has dropout (only dense and output layers may)";
        }
        if (c.type() == LayerType.MAX_POOL && c.padding() != 0) {
          return at(i, c) + "has padding (max_pool without padding)";
        }
      }
      if (i == 0) {
        return at(0, layers.get(0)) + "reads the image input (conv2d, batch_norm or max_pool)";
      }
    } else if (input != InputKind.FLAT) {
      return "model.input is " + input.configName() + " (flat or image)";
    }
    for (; i < layers.size() - 1; i++) {
      LayerConfig c = layers.get(i);
      if (c.type() != LayerType.DENSE) {
        return at(i, c)
            + (input == InputKind.IMAGE
                ? "follows the dense part (image layers, then dense layers)"
                : "is not dense (dense layers on flat input)");
      }
      if (c.activation() != Activation.RELU && c.activation() != Activation.IDENTITY) {
        return at(i, c) + "has activation " + c.activation().configName() + " (relu or identity)";
      }
    }
    LayerConfig out = layers.get(layers.size() - 1);
    if (out.activation() != Activation.SOFTMAX || out.loss() != Loss.CROSS_ENTROPY) {
      return at(layers.size() - 1, out)
          + "is "
          + out.activation().configName()
          + " with loss "
          + out.loss().configName()
          + " (softmax with cross_entropy)";
    }
    return null;
  }

  private static String at(int i, LayerConfig c) {
    return "model.layers["
        + i
        + "]: the fast kernels do not cover this "
        + c.type().configName()
        + " layer, it ";
  }

  /**
   * Gives {@code net} a flat gradient vector, with its layers' gradient views in it, unless it has
   * one: a second fast path over the same network (an evaluator beside a training path) must keep
   * the first one's, since DL4J's {@code initGradientsView} allocates a new vector and leaves the
   * views of the old one stale.
   */
  static void ensureGradientsView(MultiLayerNetwork net) {
    if (net.getFlattenedGradients() == null) {
      net.initGradientsView();
    }
  }

  /**
   * The fast path for {@code model} over {@code net} (built by {@code ModelFactory} from it), for
   * batches of up to {@code maxBatch}, on the CPU backend; empty when there is none.
   */
  static Optional<FastPath> of(
      MultiLayerNetwork net, ModelConfig model, int numInputs, int maxBatch) {
    if (!io.spindle.runtime.Nd4jRuntime.hasOneDnn()) {
      return Optional.empty();
    }
    if (unsupported(model, numInputs) != null) {
      return Optional.empty();
    }
    if (FastDenseNet.supports(model)) {
      return Optional.of(FastDenseNet.of(net, model, maxBatch));
    }
    ModelConfig f32 = model.withPrecision(Bf16Products.effective(model, false)); // bf16: float32
    if (FastConvNet.supports(f32, numInputs)) {
      return Optional.of(FastConvNet.of(net, f32, numInputs, maxBatch, true));
    }
    return Optional.empty();
  }

  /**
   * A path that evaluates {@code model} over {@code net} (in float32, for slices of up to {@code
   * maxBatch} examples) on the CPU backend: dense stacks ({@link FastDenseNet}) and the
   * convolutional networks {@link FastConvNet} trains; empty for the other models, which DL4J's
   * layers evaluate.
   */
  static Optional<FastPath> forEvaluation(
      MultiLayerNetwork net, ModelConfig model, int numInputs, int maxBatch) {
    if (!io.spindle.runtime.Nd4jRuntime.hasOneDnn() || unsupported(model, numInputs) != null) {
      return Optional.empty();
    }
    if (FastDenseNet.supports(model)) {
      return Optional.of(FastDenseNet.forEvaluation(net, model, maxBatch));
    }
    ModelConfig f32 = model.withPrecision(Bf16Products.effective(model, false)); // bf16: float32
    if (FastConvNet.supports(f32, numInputs)) {
      return Optional.of(FastConvNet.forEvaluation(net, f32, numInputs, maxBatch));
    }
    return Optional.empty();
  }

  /**
   * The fast path for the graph {@code model} over {@code net} (built by {@code GraphFactory} from
   * it), for batches of up to {@code maxBatch}, on the CPU backend ({@link FastResidualNet}); empty
   * when there is none.
   */
  static Optional<FastPath> of(
      ComputationGraph net, ModelConfig model, int numInputs, int maxBatch) {
    if (!io.spindle.runtime.Nd4jRuntime.hasOneDnn() || unsupported(model, numInputs) != null) {
      return Optional.empty();
    }
    ModelConfig f32 = model.withPrecision(Bf16Products.effective(model, false)); // bf16: float32
    return Optional.of(FastResidualNet.of(net, f32, numInputs, maxBatch));
  }
}
