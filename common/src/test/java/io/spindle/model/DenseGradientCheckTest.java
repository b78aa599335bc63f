package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import java.util.ArrayList;
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
 * Central finite differences, in double precision on tiny shapes, against the gradient Spindle
 * uses: DL4J's summed data gradient divided by the batch size, plus {@link Regularization}'s
 * penalty gradient. Covers every activation in a hidden dense layer and every output
 * activation/loss pair, with and without L1/L2.
 */
class DenseGradientCheckTest {
  private static final double MIN_ABS_ERROR = 1e-9;

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    Object[][] outputs = {
      {Activation.SOFTMAX, Loss.CROSS_ENTROPY},
      {Activation.IDENTITY, Loss.MSE},
      {Activation.SIGMOID, Loss.MSE},
      {Activation.TANH, Loss.MSE},
      {Activation.SOFTMAX, Loss.MSE},
      {Activation.SIGMOID, Loss.BINARY_CROSS_ENTROPY},
    };
    for (Activation hidden : Activation.values()) {
      for (Object[] o : outputs) {
        out.add(Arguments.of(hidden, o[0], o[1], 0.0, 0.0));
      }
    }
    out.add(Arguments.of(Activation.TANH, Activation.SOFTMAX, Loss.CROSS_ENTROPY, 0.01, 0.0));
    out.add(Arguments.of(Activation.TANH, Activation.SOFTMAX, Loss.CROSS_ENTROPY, 0.0, 0.05));
    out.add(Arguments.of(Activation.SIGMOID, Activation.IDENTITY, Loss.MSE, 0.02, 0.03));
    return out.stream();
  }

  @ParameterizedTest(name = "hidden {0}, output {1} with {2}, l1 {3}, l2 {4}")
  @MethodSource("cases")
  void analyticGradientMatchesCentralDifferences(
      Activation hidden, Activation outAct, Loss loss, double l1, double l2) {
    ModelConfig model =
        new ModelConfig(
            List.of(LayerConfig.dense(5, hidden), LayerConfig.output(3, outAct, loss)),
            WeightInit.XAVIER_NORMAL,
            l1,
            l2,
            Precision.FLOAT64);
    MultiLayerNetwork net = ModelFactory.create(model, 4, 12345);
    Nd4j.getRandom().setSeed(99);
    INDArray x = Nd4j.rand(DataType.DOUBLE, 6, 4).subi(0.5).muli(2);
    INDArray y;
    if (loss == Loss.CROSS_ENTROPY) {
      y = Nd4j.zeros(DataType.DOUBLE, 6, 3);
      for (int i = 0; i < 6; i++) {
        y.putScalar(i, i % 3, 1.0);
      }
    } else {
      y = Nd4j.rand(DataType.DOUBLE, 6, 3);
    }
    Regularization reg = Regularization.of(net, l1, l2);
    INDArray w = net.params();
    net.setInput(x);
    net.setLabels(y);
    net.computeGradientAndScore();
    INDArray analytic = net.getFlattenedGradients().dup().divi(6);
    reg.addGradient(w, analytic);

    String name = hidden + ", " + outAct + " with " + loss + ", l1 " + l1 + ", l2 " + l2;
    long checked =
        CentralDifferences.check(
                name, w, analytic, i -> false, () -> score(net, x, y), MIN_ABS_ERROR)
            .checked();
    assertTrue(checked == 4 * 5 + 5 + 5 * 3 + 3, "checked " + checked + " parameters");
  }

  private static double score(MultiLayerNetwork net, INDArray x, INDArray y) {
    net.setInput(x);
    net.setLabels(y);
    net.computeGradientAndScore();
    return net.score();
  }
}
