package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.config.ReconstructionLoss;
import io.spindle.config.WeightInit;
import io.spindle.data.MiniBatch;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Denoising corruption: a pure, seeded function of the clean input, with the statistics asked for,
 * applied to the network's input and never to its target.
 */
class CorruptionTest {
  private static float[] clean(int n) {
    SplittableRandom r = new SplittableRandom(7);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = 0.1f + (float) r.nextDouble();
    }
    return x;
  }

  @Test
  void sameSeedSameCorruptionOtherSeedOther() {
    float[] x = clean(5000);
    float[] before = x.clone();
    Corruption c = new Corruption(0.3, 0.05);
    float[] a = c.apply(x, 123);
    float[] b = c.apply(x.clone(), 123); // as another worker would, from its own copy
    assertArrayEquals(a, b);
    assertFalse(Arrays.equals(a, c.apply(x, 124)));
    assertArrayEquals(before, x, "the clean input must not be modified");
  }

  @Test
  void maskingZeroesAboutPOfTheValuesAndKeepsTheRest() {
    float[] x = clean(20000);
    float[] y = new Corruption(0.25, 0).apply(x, 99);
    int zeroed = 0;
    for (int i = 0; i < x.length; i++) {
      if (y[i] == 0f) {
        zeroed++;
      } else {
        assertEquals(x[i], y[i], "kept values are not rescaled");
      }
    }
    // binomial(20000, 0.25): sd 61; 5 sd either side
    assertTrue(Math.abs(zeroed - 5000) < 310, "zeroed " + zeroed);
  }

  @Test
  void gaussianNoiseHasTheGivenSigma() {
    float[] x = clean(20000);
    float[] y = new Corruption(0, 0.2).apply(x, 5);
    double sum = 0;
    double sq = 0;
    for (int i = 0; i < x.length; i++) {
      double d = y[i] - x[i];
      sum += d;
      sq += d * d;
    }
    double mean = sum / x.length;
    double sd = Math.sqrt(sq / x.length - mean * mean);
    assertEquals(0, mean, 0.01);
    assertEquals(0.2, sd, 0.01);
  }

  @Test
  void noneIsTheIdentityAndBadValuesAreRefused() {
    float[] x = clean(100);
    assertTrue(Corruption.none().isNone());
    assertArrayEquals(x, Corruption.none().apply(x, 1));
    assertThrows(IllegalArgumentException.class, () -> new Corruption(1.0, 0));
    assertThrows(IllegalArgumentException.class, () -> new Corruption(0, -1));
  }

  /** An autoencoder 6 -> 3 -> 6 with the given reconstruction. */
  private static MultiLayerNetwork autoencoder(Reconstruction r) {
    ModelConfig model =
        new ModelConfig(
            List.of(
                LayerConfig.dense(3, Activation.SIGMOID),
                LayerConfig.output(6, Activation.SIGMOID, Loss.MSE)),
            WeightInit.XAVIER_UNIFORM,
            0,
            0,
            Precision.FLOAT32);
    return r.configure(ModelFactory.create(model, 6, 1));
  }

  @Test
  void theNetworkSeesTheCorruptedInputAndLearnsTheCleanOne() {
    float[] x = clean(4 * 6);
    MiniBatch batch = new MiniBatch(0, 4, 6, x, new int[4]);
    Reconstruction r = new Reconstruction(new Corruption(0.5, 0), ReconstructionLoss.MSE);
    MultiLayerNetwork net = autoencoder(r);
    StepKey key = new StepKey(77, 3, 0);
    r.computeGradient(net, batch, DataType.FLOAT, key);
    INDArray cleanArray = batch.featureArray(DataType.FLOAT);
    INDArray corrupted =
        new MiniBatch(0, 4, 6, new Corruption(0.5, 0).apply(x, 6, key), new int[4])
            .featureArray(DataType.FLOAT);
    assertEquals(cleanArray, net.getLabels(), "the target is the clean input");
    assertEquals(corrupted, net.getInput(), "the input is the corrupted one");
    assertFalse(cleanArray.equals(net.getInput()));
    assertArrayEquals(clean(4 * 6), batch.features(), "the batch itself stays clean");
  }

  /**
   * Each example is corrupted with the seed of its index in the global batch: a batch split into
   * two shares (as two workers hold it) is corrupted exactly as the whole batch, whatever the
   * split.
   */
  @Test
  void anExampleIsCorruptedTheSameWayHoweverTheBatchIsSplit() {
    int features = 7;
    float[] x = clean(10 * features);
    Corruption c = new Corruption(0.3, 0.1);
    float[] whole = c.apply(x, features, new StepKey(5, 12, 0));
    for (int split : new int[] {1, 4, 9}) {
      float[] first = Arrays.copyOfRange(x, 0, split * features);
      float[] second = Arrays.copyOfRange(x, split * features, x.length);
      float[] a = c.apply(first, features, new StepKey(5, 12, 0));
      float[] b = c.apply(second, features, new StepKey(5, 12, split));
      float[] joined = new float[x.length];
      System.arraycopy(a, 0, joined, 0, a.length);
      System.arraycopy(b, 0, joined, a.length, b.length);
      assertArrayEquals(whole, joined, "split after " + split + " examples");
    }
    assertFalse(Arrays.equals(whole, c.apply(x, features, new StepKey(5, 13, 0))), "next step");
    assertFalse(Arrays.equals(whole, c.apply(x, features, new StepKey(6, 12, 0))), "other seed");
    // different examples of one step get different noise (the rows are not all alike)
    float[] same = new float[x.length];
    for (int r = 0; r < 10; r++) {
      System.arraycopy(x, 0, same, r * features, features);
    }
    float[] noisy = c.apply(same, features, new StepKey(5, 12, 0));
    assertFalse(
        Arrays.equals(
            Arrays.copyOfRange(noisy, 0, features),
            Arrays.copyOfRange(noisy, features, 2 * features)));
  }

  @Test
  void binaryCrossEntropyReplacesTheOutputLoss() {
    float[] x = new float[2 * 6];
    Arrays.fill(x, 1f);
    MiniBatch batch = new MiniBatch(0, 2, 6, x, new int[2]);
    Reconstruction bce =
        new Reconstruction(Corruption.none(), ReconstructionLoss.BINARY_CROSS_ENTROPY);
    Reconstruction mse = new Reconstruction(Corruption.none(), ReconstructionLoss.MSE);
    MultiLayerNetwork a = autoencoder(bce);
    MultiLayerNetwork b = autoencoder(mse);
    INDArray out = b.output(batch.featureArray(DataType.FLOAT));
    // targets all 1: BCE per example = -sum log p over the 6 outputs; MSE = mean (1 - p)^2
    double expectedBce = -Nd4j.math().log(out.dup()).sumNumber().doubleValue() / 2;
    double expectedMse = out.rsub(1.0).muli(out.rsub(1.0)).sumNumber().doubleValue() / (2 * 6);
    assertEquals(expectedBce, bce.score(a, batch, DataType.FLOAT), 1e-4);
    assertEquals(expectedMse, mse.score(b, batch, DataType.FLOAT), 1e-6);
  }
}
