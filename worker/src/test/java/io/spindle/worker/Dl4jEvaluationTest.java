package io.spindle.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.Kernels;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.data.MiniBatch;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import io.spindle.tensor.FlatVector;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Evaluation on DL4J's layers in one forward pass per slice ({@link Dl4jReplica#outputAndScore} of
 * {@link MultiLayerReplica} and {@link GraphReplica}) against the two passes it replaces, DL4J's
 * {@code output} then {@code score(data, false)} ({@link Dl4jReplica#output}, {@link
 * Dl4jReplica#score}), kept here as the reference. After a few training steps, on 450 test examples
 * (slices of 200, 200 and 50): every output bit for bit, every slice's mean loss bit for bit (the
 * same operations on the same values, the regularization term included), and so the same correct
 * and top-5 counts and summed loss. An evaluation between two training steps leaves the next step's
 * loss and gradient bit for bit as they are without it.
 */
class Dl4jEvaluationTest {
  static final long SEED = FastReplicaTest.SEED;
  static final int TEST_EXAMPLES = 450;

  private static ModelSpec spec(ModelConfig model) {
    return new ModelSpec(model, OptimizerConfig.of(OptimizerType.ADAM, 1e-3), 784, 10, SEED, 1);
  }

  /** A dense stack with dropout, L2 and label smoothing. */
  @Test
  void denseStackWithDropoutL2AndLabelSmoothing() {
    ModelConfig model =
        new ModelConfig(
                List.of(
                    LayerConfig.dense(64, Activation.RELU),
                    new LayerConfig(LayerType.DENSE, 64, Activation.RELU, 0.2, null),
                    new LayerConfig(
                            LayerType.OUTPUT, 10, Activation.SOFTMAX, 0.2, Loss.CROSS_ENTROPY)
                        .withLabelSmoothing(0.1)),
                WeightInit.HE_NORMAL,
                0.0,
                1e-4,
                Precision.FLOAT32)
            .withKernels(Kernels.DL4J);
    ModelSpec spec = spec(model);
    TrainableNetwork net = spec.newNetwork();
    assertInstanceOf(MultiLayerReplica.class, net);
    double penalty = ((MultiLayerReplica) net).network().calcRegularizationScore(true);
    assertOnePassEqualsTwo(spec, new int[] {1, 28, 28}, true);
    assertTrue(penalty > 0, "the L2 term is part of the loss");
  }

  /** The network of deploy/examples/mnist-cnn.yaml on DL4J's layers. */
  @Test
  void convolutionalStack() {
    ModelConfig model = FastReplicaTest.cnn(Kernels.DL4J);
    assertOnePassEqualsTwo(spec(model), new int[] {1, 28, 28}, true);
  }

  /**
   * A ResNet-20 preset graph at a small width (projection shortcuts, batch norm, L2, smoothing).
   */
  @Test
  void residualGraph() {
    InputConfig in = InputConfig.image(8, 8, 4);
    ModelSpec spec =
        FastGraphReplicaTest.spec(
            FastGraphReplicaTest.resnet20("b", in, Precision.FLOAT32, Kernels.DL4J), in);
    assertInstanceOf(GraphReplica.class, spec.newNetwork());
    assertOnePassEqualsTwo(spec, new int[] {4, 8, 8}, false);
  }

  /**
   * Layers of two image formats (DL4J's inference pass permutes between them) are left to two
   * passes. DL4J's test for a layer with an image format ({@code
   * ConvolutionUtils.layerHasConvolutionLayout}) holds for padding, upsampling and some other
   * layers, not for a plain convolution, so padding layers stand in here.
   */
  @Test
  void mixedDataFormatsAreLeftToTwoPasses() {
    ZeroPaddingLayer nchw = new ZeroPaddingLayer.Builder(1, 1).build();
    ZeroPaddingLayer nhwc = new ZeroPaddingLayer.Builder(1, 1).dataFormat(CNN2DFormat.NHWC).build();
    ConvolutionLayer conv = new ConvolutionLayer.Builder(3, 3).nIn(1).nOut(2).build();
    DenseLayer dense = new DenseLayer.Builder().nIn(2).nOut(2).build();
    assertTrue(Dl4jReplica.oneDataFormat(Stream.of(nchw, conv, nchw, dense)));
    assertTrue(Dl4jReplica.oneDataFormat(Stream.of(nhwc, conv, dense)));
    assertFalse(Dl4jReplica.oneDataFormat(Stream.of(nchw, conv, nhwc, dense)));
  }

  /**
   * Trains a network of {@code spec} for 5 steps of 64 examples of shape {@code chw}, then checks
   * its one-pass evaluation of 450 examples against the two passes, slice by slice and in total,
   * and that evaluating leaves the next training step alone.
   */
  private static void assertOnePassEqualsTwo(ModelSpec spec, int[] chw, boolean sparse) {
    Dl4jReplica net = (Dl4jReplica) spec.newNetwork();
    assertTrue(net.scoresInOnePass(), "this network is scored in one pass");
    List<MiniBatch> train = FastReplicaTest.batches(6, 64, chw, sparse, 7);
    FastReplicaTest.train(net, spec, train.subList(0, 5));
    MiniBatch test = FastReplicaTest.batches(1, TEST_EXAMPLES, chw, sparse, 7).get(0);

    DataType type = spec.dataType();
    INDArray x = test.featureArray(type);
    INDArray y = test.oneHotLabels(type, spec.numClasses());
    Evaluation reference = Evaluation.empty();
    for (int from = 0; from < test.size(); from += Dl4jReplica.EVAL_SLICE) {
      int to = Math.min(test.size(), from + Dl4jReplica.EVAL_SLICE);
      INDArray xs = x.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      INDArray ys = y.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
      INDArray out = net.output(xs);
      double loss = net.score(new DataSet(xs, ys));
      Dl4jReplica.Scored one = net.outputAndScore(xs, ys);
      assertArrayEquals(flat(out), flat(one.output()), "outputs of examples " + from + "..");
      assertEquals(loss, one.meanLoss(), 0.0, "mean loss of examples " + from + "..");
      long correct = Dl4jReplica.countCorrect(out, test, from);
      long top5 = Evaluation.correctInTopK(out, test.labels(), from, 5);
      reference = reference.merge(new Evaluation(correct, top5, loss * (to - from), to - from));
    }
    Evaluation got = net.evaluate(test);
    assertEquals(TEST_EXAMPLES, got.examples());
    assertEquals(reference.correct(), got.correct(), "correct predictions");
    assertEquals(reference.correctTop5(), got.correctTop5(), "top-5 correct");
    assertEquals(reference.meanLoss(), got.meanLoss(), 0.0, "mean loss");
    assertTrue(got.correct() > 0 && got.correctTop5() > got.correct(), "a working classifier");

    Dl4jReplica twin = (Dl4jReplica) spec.newNetwork();
    twin.params().assign(net.params());
    MiniBatch next = train.get(5);
    StepKey key = new StepKey(SEED, 5, 0);
    double plain = twin.computeGradient(next, key);
    float[] plainGradient = FlatVector.copyOf(twin.gradient()).toFloatArray();
    net.evaluate(test);
    assertEquals(plain, net.computeGradient(next, key), 0.0, "the loss after an evaluation");
    assertArrayEquals(
        plainGradient,
        FlatVector.copyOf(net.gradient()).toFloatArray(),
        "the gradient after an evaluation");
    assertEquals(twin.correctOfLastForward(), net.correctOfLastForward(), "training accuracy");
  }

  private static float[] flat(INDArray a) {
    return a.castTo(DataType.FLOAT).dup().reshape(a.length()).toFloatVector();
  }
}
