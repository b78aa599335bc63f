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
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Max-norm and the L1/L2 mask cover the weights of every layer kind and never biases or batch-norm
 * parameters; unit norms are recomputed here from DL4J's own parameter arrays.
 */
class MaxNormTest {
  static MultiLayerNetwork cnn() {
    return ModelFactory.create(
        new ModelConfig(
            List.of(
                LayerConfig.conv2d(3, 2, 1, 0, Activation.RELU),
                LayerConfig.of(LayerType.BATCH_NORM),
                LayerConfig.dense(5, Activation.RELU),
                LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
            WeightInit.HE_NORMAL,
            0,
            0.1,
            Precision.FLOAT64,
            InputConfig.image(4, 4, 2),
            0),
        32,
        3);
  }

  static MultiLayerNetwork sequence() {
    return ModelFactory.create(
        new ModelConfig(
            List.of(
                LayerConfig.embedding(5, 4),
                LayerConfig.selfAttention(4, 2),
                LayerConfig.recurrent(LayerType.LSTM, 3, Activation.TANH),
                LayerConfig.of(LayerType.LAST_TIME_STEP),
                LayerConfig.output(3, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
            WeightInit.HE_NORMAL,
            0,
            0.1,
            Precision.FLOAT64,
            InputConfig.sequence(4, 1),
            0),
        4,
        3);
  }

  @Test
  void everyUnitEndsAtMostAtTheBoundAndShorterUnitsAreUntouched() {
    for (MultiLayerNetwork net : List.of(cnn(), sequence())) {
      INDArray w = net.params();
      w.muli(3); // make some units longer than the bound
      double c = 0.8;
      MaxNorm maxNorm = MaxNorm.of(net, c);
      INDArray before = w.dup();
      maxNorm.apply(w);
      double largest = 0;
      long offset = 0;
      for (Layer layer : net.getLayers()) {
        for (var e : layer.paramTable().entrySet()) {
          INDArray p = e.getValue();
          INDArray old = before.reshape(before.length()).get(interval(offset, p.length()));
          if (Regularization.isWeight(layer, e.getKey())) {
            // norms over all dimensions but the unit's: rank 2 [in, out] over in, conv over 1..3
            int[] over =
                p.rank() == 4 ? new int[] {1, 2, 3} : p.rank() == 3 ? new int[] {2} : new int[] {0};
            INDArray norms = p.norm2(over);
            INDArray oldNorms = old.reshape(p.ordering(), p.shape()).norm2(over);
            for (int u = 0; u < norms.length(); u++) {
              double expected = Math.min(oldNorms.getDouble(u), c);
              assertEquals(expected, norms.getDouble(u), 1e-9, layer + " " + e.getKey() + " " + u);
              largest = Math.max(largest, norms.getDouble(u));
            }
          } else {
            assertEquals(
                old, p.reshape(p.ordering(), new long[] {p.length()}), "untouched: " + e.getKey());
          }
          offset += p.length();
        }
      }
      assertEquals(c, largest, 1e-9, "some unit must have been scaled to the bound");
    }
  }

  @Test
  void regularisationMaskCoversWeightsOnly() {
    for (MultiLayerNetwork net : List.of(cnn(), sequence())) {
      INDArray w = net.params();
      INDArray g = w.mul(0);
      Regularization.of(net, 0, 1.0).addGradient(w, g); // l2 = 1: gradient = w on weights
      long offset = 0;
      int weights = 0;
      for (Layer layer : net.getLayers()) {
        for (var e : layer.paramTable().entrySet()) {
          INDArray v = e.getValue();
          INDArray p =
              v.reshape(
                  v.ordering(), new long[] {v.length()}); // storage order, as in the flat vector
          INDArray got = g.reshape(g.length()).get(interval(offset, p.length()));
          boolean weight = Regularization.isWeight(layer, e.getKey());
          assertEquals(weight ? p : p.mul(0), got, e.getKey() + " of " + layer.getClass());
          weights += weight ? 1 : 0;
          offset += p.length();
        }
      }
      assertTrue(weights >= 3, "weights found: " + weights);
    }
  }

  private static org.nd4j.linalg.indexing.INDArrayIndex interval(long offset, long n) {
    return org.nd4j.linalg.indexing.NDArrayIndex.interval(offset, offset + n);
  }
}
