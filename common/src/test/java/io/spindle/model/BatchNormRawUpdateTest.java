package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.optim.FlatOptimizer;
import java.util.List;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * Batch normalisation's running statistics under Spindle's optimiser: the same steps as DL4J's own
 * {@code fit()} with its updater (which subtracts their pseudo-gradient raw), and FlatOptimizer's
 * fused float form on a shard at an offset equals its ND4J form.
 */
class BatchNormRawUpdateTest {
  static ModelConfig model(Precision precision) {
    return new ModelConfig(
        List.of(
            LayerConfig.conv2d(3, 2, 1, 0, Activation.IDENTITY),
            LayerConfig.of(LayerType.BATCH_NORM),
            LayerConfig.dense(4, Activation.TANH),
            LayerConfig.of(LayerType.BATCH_NORM),
            LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
        WeightInit.XAVIER_NORMAL,
        0,
        0,
        precision,
        InputConfig.image(4, 4, 1),
        0);
  }

  static DataSet batch(int seed, DataType type) {
    Nd4j.getRandom().setSeed(seed);
    INDArray x = Nd4j.rand(type, 6, 16).muli(3).addi(1);
    INDArray y = Nd4j.zeros(type, 6, 3);
    for (int i = 0; i < 6; i++) {
      y.putScalar(i, (i + seed) % 3, 1.0);
    }
    return new DataSet(x, y);
  }

  @Test
  void runningStatisticsAreSubtractedRawAsDl4jsUpdaterDoes() {
    double lr = 0.1;
    ModelConfig model = model(Precision.FLOAT64);
    // DL4J's own path: the same configuration with an SGD updater, trained by fit()
    MultiLayerConfiguration conf = ModelFactory.configuration(model, 16, 5);
    for (NeuralNetConfiguration c : conf.getConfs()) {
      if (c.getLayer() instanceof BaseLayer b) {
        b.setIUpdater(new Sgd(lr));
      }
    }
    MultiLayerNetwork dl4j = new MultiLayerNetwork(conf);
    dl4j.init();
    // Spindle's path: summed gradient with raw entries scaled to a sum, divided by the batch
    MultiLayerNetwork net = ModelFactory.create(model, 16, 5);
    assertArrayEquals(dl4j.params().toDoubleVector(), net.params().toDoubleVector());
    RawUpdateRanges raw = RawUpdateRanges.of(net);
    assertEquals(2, raw.count(), "two batch-norm layers: " + raw);
    INDArray w = net.params();
    FlatOptimizer opt =
        FlatOptimizer.create(OptimizerConfig.of(OptimizerType.SGD, lr), w.length(), w.dataType())
            .rawUpdates(raw);
    INDArray initial = w.dup();
    for (int step = 0; step < 3; step++) {
      DataSet d = batch(step, DataType.DOUBLE);
      dl4j.fit(d);
      net.setInput(d.getFeatures());
      net.setLabels(d.getLabels());
      net.computeGradientAndScore();
      raw.scaleToSum(net.getFlattenedGradients(), 6);
      INDArray g = net.getFlattenedGradients().dup().divi(6);
      opt.step(w, g, step);
    }
    double moved = rangeOf(w, raw, 0).sub(rangeOf(initial, raw, 0)).norm2Number().doubleValue();
    assertTrue(moved > 1e-3, "running statistics must move, moved " + moved);
    double[] expected = dl4j.params().toDoubleVector();
    double[] actual = w.toDoubleVector();
    for (int i = 0; i < expected.length; i++) {
      assertEquals(
          expected[i], actual[i], 1e-10 * Math.max(1, Math.abs(expected[i])), "param " + i);
    }
  }

  @Test
  void fusedStepOnAShardEqualsTheNd4jStep() {
    MultiLayerNetwork net = ModelFactory.create(model(Precision.FLOAT32), 16, 5);
    RawUpdateRanges raw = RawUpdateRanges.of(net);
    int n = (int) net.numParams();
    int from = raw.from(0) - 3; // a shard that starts before the first range and cuts the second
    int to = raw.from(1) + 2;
    OptimizerConfig adam = OptimizerConfig.of(OptimizerType.ADAM, 0.01);
    FlatOptimizer whole = FlatOptimizer.create(adam, n, DataType.FLOAT).rawUpdates(raw);
    FlatOptimizer shard =
        FlatOptimizer.create(adam, to - from, DataType.FLOAT).rawUpdates(raw.slice(from, to));
    INDArray w = net.params().dup().reshape(n);
    float[] values = w.toFloatVector();
    for (int step = 0; step < 3; step++) {
      Nd4j.getRandom().setSeed(step);
      INDArray g = Nd4j.rand(DataType.FLOAT, n).subi(0.5f);
      whole.step(w, g, step);
      float[] grad = new float[n + 5];
      System.arraycopy(g.toFloatVector(), 0, grad, 5, n);
      shard.step(values, from, grad, 5 + from, step);
    }
    float[] expected = w.toFloatVector();
    for (int i = from; i < to; i++) {
      assertEquals(expected[i], values[i], 1e-6f, "param " + i);
    }
    // raw entries moved by exactly the summed gradients; their Adam state stayed zero
    INDArray state = whole.state();
    for (int r = 0; r < raw.count(); r++) {
      for (int i = raw.from(r); i < raw.to(r); i++) {
        assertEquals(0.0, state.getDouble(i));
        assertEquals(0.0, state.getDouble(n + i));
      }
    }
  }

  private static INDArray rangeOf(INDArray w, RawUpdateRanges raw, int r) {
    return w.reshape(w.length()).get(NDArrayIndex.interval(raw.from(r), raw.to(r))).dup();
  }
}
