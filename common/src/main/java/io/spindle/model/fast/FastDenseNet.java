package io.spindle.model.fast;

import io.spindle.config.InputKind;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The fast dense path (prototype, issue 13): one worker's forward and backward pass of an MLP,
 * dense layers (ReLU or identity) under a softmax cross-entropy output, computing what DL4J's
 * {@code computeGradientAndScore} computes for the same network (the mean loss, and the gradient
 * summed over the batch's examples) with three matrix products per layer and nothing else of size:
 * no per-step allocation, no gradient flattening (the gradient is written into the network's own
 * flat gradient vector), no dropout RNG in ND4J. How: {@link DenseStack}.
 *
 * <p>Dropout masks are the step's {@link StepKey} masks, the same DL4J's {@code KeyedDropout}
 * draws, so the two paths agree to float32 rounding with and without dropout ({@code
 * FastDenseNetTest}), and the masks do not depend on how the batch is split across workers. The
 * first layer's input gradient is not computed.
 *
 * <p>Not thread-safe: one instance per worker thread, like the network it wraps.
 */
public final class FastDenseNet implements FastPath {
  private final DenseStack stack;

  private FastDenseNet(
      MultiLayerNetwork net, ModelConfig model, int maxBatch, boolean bf16, boolean evaluation) {
    if (!supports(model)) {
      throw new IllegalArgumentException(
          "the fast dense path takes dense layers (relu or identity) under a softmax"
              + " cross_entropy output in float32 or bf16, got "
              + model);
    }
    if (bf16 && model.precision() != Precision.BF16) {
      throw new IllegalArgumentException(
          "bf16 products for a model of precision " + model.precision().configName());
    }
    FastPath.ensureGradientsView(net); // an evaluator keeps the training path's gradient vector
    int inputs = (int) net.getLayer(0).getParam("W").size(0);
    INDArray params = net.params().reshape(net.numParams());
    stack =
        evaluation
            ? DenseStack.forInference(params, 0, model.layers(), 0, inputs, maxBatch)
            : new DenseStack(
                params,
                net.getFlattenedGradients().reshape(net.numParams()),
                0,
                model.layers(),
                0,
                inputs,
                maxBatch,
                false,
                bf16);
    if (stack.numParams() != net.numParams()) {
      throw new IllegalStateException(
          "dense layers cover "
              + stack.numParams()
              + " parameters, the network has "
              + net.numParams());
    }
  }

  /**
   * A fast path over {@code net}'s own parameter and gradient vectors, for batches of up to {@code
   * maxBatch} examples. A bf16 model's products take bfloat16 operands where that pays in this JVM
   * ({@link Bf16Products#effective}), float32 ones otherwise; {@link #precision} says which.
   */
  public static FastDenseNet of(MultiLayerNetwork net, ModelConfig model, int maxBatch) {
    return of(net, model, maxBatch, Bf16Products.effective(model, true) == Precision.BF16);
  }

  /**
   * As {@link #of(MultiLayerNetwork, ModelConfig, int)} with the bf16 decision given: bf16 products
   * ({@code bf16}, for a bf16 model only) or float32 ones (the fallback, for any model).
   */
  static FastDenseNet of(MultiLayerNetwork net, ModelConfig model, int maxBatch, boolean bf16) {
    return new FastDenseNet(net, model, maxBatch, bf16, false);
  }

  /**
   * A fast path that only evaluates ({@link #evaluate}), on float32 products whatever the model's
   * precision (as DL4J's evaluation computes), for slices of up to {@code maxBatch} examples; its
   * stack holds the forward's buffers only ({@link DenseStack#forInference}).
   */
  static FastDenseNet forEvaluation(MultiLayerNetwork net, ModelConfig model, int maxBatch) {
    return new FastDenseNet(net, model, maxBatch, false, true);
  }

  /** The precision the products compute in: bf16, or float32 (also a bf16 model's fallback). */
  @Override
  public Precision precision() {
    return stack.bf16() ? Precision.BF16 : Precision.FLOAT32;
  }

  /**
   * Whether the fast path computes {@code model}: dense relu/identity layers, softmax output,
   * float32 storage (float32 or bf16).
   */
  public static boolean supports(ModelConfig model) {
    return model.precision().storage() == Precision.FLOAT32
        && DenseStack.supports(model.layers())
        && (model.input() == null || model.input().type() == InputKind.FLAT);
  }

  /**
   * Forward and backward pass over {@code rows} examples ({@code features}: rows x inputs,
   * row-major; {@code labels}: class indices) with the dropout masks of {@code key}. Leaves the
   * gradient summed over the examples in the network's flat gradient vector; returns the mean loss.
   */
  @Override
  public double computeGradient(float[] features, int[] labels, int rows, StepKey key) {
    return stack.forwardBackward(features, labels, rows, key, null);
  }

  @Override
  public Evaluation evaluate(float[] features, int from, int[] labels, int rows, double penalty) {
    return stack.evaluate(features, from, labels, rows, penalty);
  }

  /** Correct predictions (arg-max of the output's logits) of the last forward pass. */
  @Override
  public long correct() {
    return stack.correct();
  }

  /**
   * Adds each layer's forward time to {@code nanos[2 l]} and its backward time (its weight
   * gradient, its input gradient and the layer below's activation and bias gradient) to {@code
   * nanos[2 l + 1]} on every later pass (for the profiler; null stops it).
   */
  @Override
  public void recordTimes(long[] nanos) {
    stack.recordTimes(nanos, 0);
  }

  /**
   * What each phase of {@link #recordPhases} covers, by index: input copy, forward products, the
   * bias/activation/dropout passes, softmax, weight-gradient products, input-gradient products, the
   * backward passes (for the step profiler).
   */
  public static java.util.List<String> phases() {
    return java.util.List.of(DenseStack.PHASES);
  }

  /**
   * Adds each phase's time ({@link #phases}) to {@code nanos[phase]}, summed over the layers, on
   * every later pass (for the step profiler; null stops it).
   */
  public void recordPhases(long[] nanos) {
    stack.recordPhases(nanos);
  }
}
