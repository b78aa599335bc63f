package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Central finite differences, in double precision on tiny shapes, for every layer type beyond dense
 * (which {@link DenseGradientCheckTest} covers with every activation and loss): the gradient
 * Spindle applies (DL4J's summed gradient divided by the batch size plus {@link Regularization}'s
 * penalty) against the numerical derivative of the mean loss plus {@link Regularization#penalty},
 * for every parameter except batch normalisation's running statistics (not trained by gradient:
 * {@link RawUpdateRanges}). Dropout layers are checked with a fixed mask: every evaluation uses the
 * same {@link StepKey}.
 */
class LayerGradientCheckTest {
  private static final double MIN_ABS_ERROR = 1e-8;
  private static final int BATCH = 4;
  private static final int CLASSES = 3;

  static LayerConfig out(Activation a, Loss loss) {
    return LayerConfig.output(CLASSES, a, loss);
  }

  static LayerConfig out() {
    return out(Activation.SOFTMAX, Loss.CROSS_ENTROPY);
  }

  static Stream<Arguments> cases() {
    InputConfig image = InputConfig.image(5, 5, 2);
    InputConfig seq = InputConfig.sequence(3, 2);
    InputConfig tokens = InputConfig.sequence(5, 1);
    return Stream.of(
        Arguments.of(
            "conv2d stride 2 padding 1, tanh",
            image,
            List.of(LayerConfig.conv2d(3, 3, 2, 1, Activation.TANH), out()),
            0.0,
            0.0),
        Arguments.of(
            "conv2d leaky_relu with l1 and l2",
            image,
            List.of(LayerConfig.conv2d(2, 2, 1, 0, Activation.LEAKY_RELU), out()),
            0.01,
            0.05),
        Arguments.of(
            "conv2d sigmoid + max_pool",
            image,
            List.of(
                LayerConfig.conv2d(2, 2, 1, 1, Activation.SIGMOID),
                LayerConfig.pool(LayerType.MAX_POOL, 2, 2, 0),
                out()),
            0.0,
            0.0),
        Arguments.of(
            "conv2d + avg_pool stride 1 padding 1",
            image,
            List.of(
                LayerConfig.conv2d(2, 2, 1, 0, Activation.TANH),
                LayerConfig.pool(LayerType.AVG_POOL, 2, 1, 1),
                out(Activation.SIGMOID, Loss.BINARY_CROSS_ENTROPY)),
            0.0,
            0.0),
        Arguments.of(
            "conv2d + batch_norm (image) + dense + batch_norm (flat), l2",
            image,
            List.of(
                LayerConfig.conv2d(2, 2, 2, 0, Activation.IDENTITY),
                LayerConfig.of(LayerType.BATCH_NORM),
                LayerConfig.dense(4, Activation.RELU),
                LayerConfig.of(LayerType.BATCH_NORM),
                out()),
            0.0,
            0.02),
        Arguments.of(
            "dense + dropout layer + per-layer dropout (fixed masks)",
            InputConfig.flat(),
            List.of(
                LayerConfig.dense(6, Activation.TANH),
                LayerConfig.dropoutLayer(0.3),
                new LayerConfig(LayerType.DENSE, 5, Activation.SIGMOID, 0.2, null),
                out(Activation.IDENTITY, Loss.MSE)),
            0.0,
            0.0),
        Arguments.of(
            "lstm + last_time_step, l2",
            seq,
            List.of(LayerConfig.recurrent(LayerType.LSTM, 2, Activation.TANH), lastStep(), out()),
            0.0,
            0.03),
        Arguments.of(
            "lstm (sigmoid) + global_max_pool, mse",
            seq,
            List.of(
                LayerConfig.recurrent(LayerType.LSTM, 2, Activation.SIGMOID),
                LayerConfig.of(LayerType.GLOBAL_MAX_POOL),
                out(Activation.SOFTMAX, Loss.MSE)),
            0.0,
            0.0),
        Arguments.of(
            "simple_rnn + last_time_step, l1",
            seq,
            List.of(
                LayerConfig.recurrent(LayerType.SIMPLE_RNN, 4, Activation.TANH), lastStep(), out()),
            0.02,
            0.0),
        Arguments.of(
            "embedding + self_attention (2 heads) + global_avg_pool, l2",
            tokens,
            List.of(
                LayerConfig.embedding(5, 2),
                LayerConfig.selfAttention(2, 2),
                LayerConfig.of(LayerType.GLOBAL_AVG_POOL),
                out()),
            0.0,
            0.02),
        Arguments.of(
            "self_attention 1 head + self_attention 2 heads + global_avg_pool",
            seq,
            List.of(
                LayerConfig.selfAttention(2, 1),
                LayerConfig.selfAttention(2, 2),
                LayerConfig.of(LayerType.GLOBAL_AVG_POOL),
                out()),
            0.0,
            0.0),
        Arguments.of(
            "conv2d + global_avg_pool, binary cross-entropy",
            image,
            List.of(
                LayerConfig.conv2d(3, 3, 1, 1, Activation.RELU),
                LayerConfig.of(LayerType.GLOBAL_AVG_POOL),
                out(Activation.SIGMOID, Loss.BINARY_CROSS_ENTROPY)),
            0.0,
            0.0));
  }

  private static LayerConfig lastStep() {
    return LayerConfig.of(LayerType.LAST_TIME_STEP);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void analyticGradientMatchesCentralDifferences(
      String name, InputConfig input, List<LayerConfig> layers, double l1, double l2) {
    ModelConfig model =
        new ModelConfig(layers, WeightInit.XAVIER_NORMAL, l1, l2, Precision.FLOAT64, input, 0.0);
    int numInputs = input.type() == io.spindle.config.InputKind.FLAT ? 5 : (int) input.size();
    MultiLayerNetwork net = ModelFactory.create(model, numInputs, 12345);
    Nd4j.getRandom().setSeed(99);
    INDArray x;
    if (layers.get(0).type() == LayerType.EMBEDDING) {
      x = Nd4j.zeros(DataType.DOUBLE, BATCH, numInputs);
      for (int i = 0; i < BATCH; i++) {
        for (int j = 0; j < numInputs; j++) {
          x.putScalar(i, j, (i * 7 + j * 3) % layers.get(0).vocabulary());
        }
      }
    } else {
      x = Nd4j.rand(DataType.DOUBLE, BATCH, numInputs).subi(0.5).muli(2);
    }
    INDArray y;
    if (model.outputLayer().loss() == Loss.MSE) {
      y = Nd4j.rand(DataType.DOUBLE, BATCH, CLASSES);
    } else {
      y = Nd4j.zeros(DataType.DOUBLE, BATCH, CLASSES);
      for (int i = 0; i < BATCH; i++) {
        y.putScalar(i, i % CLASSES, 1.0);
      }
    }
    Regularization reg = Regularization.of(net, l1, l2);
    RawUpdateRanges raw = RawUpdateRanges.of(net);
    INDArray w = net.params();
    score(net, reg, x, y);
    INDArray analytic = net.getFlattenedGradients().dup().divi(BATCH);
    reg.addGradient(w, analytic);

    CentralDifferences.Result result =
        CentralDifferences.check(
            name, w, analytic, i -> isRaw(raw, i), () -> score(net, reg, x, y), MIN_ABS_ERROR);
    long checked = result.checked();
    long nonZero = result.nonZero();
    long rawCount = 0;
    for (int r = 0; r < raw.count(); r++) {
      rawCount += raw.to(r) - raw.from(r);
    }
    assertEquals(w.length() - rawCount, checked);
    // a check that sees only zero derivatives proves nothing
    assertTrue(nonZero > checked / 2, name + ": only " + nonZero + " of " + checked + " nonzero");
  }

  private static boolean isRaw(RawUpdateRanges raw, long i) {
    for (int r = 0; r < raw.count(); r++) {
      if (i >= raw.from(r) && i < raw.to(r)) {
        return true;
      }
    }
    return false;
  }

  /** Spindle's objective: the mean data loss plus {@link Regularization#penalty}. */
  private static double score(MultiLayerNetwork net, Regularization reg, INDArray x, INDArray y) {
    KeyedDropout.key(net, new StepKey(4242, 0, 0)); // the same dropout masks every evaluation
    net.setInput(x);
    net.setLabels(y);
    net.computeGradientAndScore();
    return net.score() - net.calcRegularizationScore(true) + reg.penalty(net.params());
  }
}
