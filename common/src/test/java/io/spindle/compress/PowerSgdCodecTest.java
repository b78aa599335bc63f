package io.spindle.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.compress.GradientLayout.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * PowerSGD's algebra: low-rank gradients pass exactly, every worker decompresses the same sum,
 * error feedback loses nothing (the residuals plus everything sent equal everything computed),
 * state round-trips bit for bit and by parameter range, and the codec converges where it must.
 */
class PowerSgdCodecTest {
  /** A 40 x 30 matrix, a vector of 7, a 20 x 25 matrix. */
  private static final GradientLayout LAYOUT =
      GradientLayout.of(
          List.of(
              new Tensor("W1", 0, 40, 30),
              new Tensor("b1", 1200, 1, 7),
              new Tensor("W2", 1207, 20, 25)));

  @Test
  void theMnistMlpTravelsAsSeventyTimesFewerValuesAtRankFour() {
    GradientLayout mlp =
        GradientLayout.of(
            List.of(
                new Tensor("0_W", 0, 800, 784),
                new Tensor("0_b", 627_200, 1, 800),
                new Tensor("1_W", 628_000, 800, 800),
                new Tensor("1_b", 1_268_000, 1, 800),
                new Tensor("2_W", 1_268_800, 10, 800),
                new Tensor("2_b", 1_276_800, 1, 10)));
    PowerSgdCodec c = new PowerSgdCodec(mlp, 4, 1);
    // P: 800x4 + 800x4 + 10x4, raw biases 800 + 800 + 10; Q: 784x4 + 800x4 + 800x4
    assertEquals(3200 + 800 + 3200 + 800 + 40 + 10, c.firstLength());
    assertEquals(3136 + 3200 + 3200, c.secondLength());
    double ratio = 1_276_810.0 / (c.firstLength() + c.secondLength());
    assertTrue(ratio > 72 && ratio < 73, "compression ratio " + ratio);
    // a matrix that rank r would not shrink is sent as it is
    PowerSgdCodec wide =
        new PowerSgdCodec(GradientLayout.of(List.of(new Tensor("s", 0, 3, 3))), 2, 1);
    assertFalse(wide.compresses(0));
    assertEquals(9, wide.firstLength());
    assertEquals(0, wide.secondLength());
  }

  @Test
  void lowRankGradientsArriveExactlyAndVectorsBitForBit() {
    PowerSgdCodec c = new PowerSgdCodec(LAYOUT, 2, 7);
    float[] g = new float[LAYOUT.length()];
    SplittableRandom rng = new SplittableRandom(3);
    fillRankTwo(g, 0, 40, 30, rng);
    fillRankTwo(g, 1207, 20, 25, rng);
    for (int i = 1200; i < 1207; i++) {
      g[i] = (float) rng.nextGaussian();
    }
    float[] out = CodecHarness.powerSgdStep(List.of(c), List.of(g));
    double scale = maxAbs(g);
    for (int i = 0; i < g.length; i++) {
      assertEquals(g[i], out[i], 1e-5 * scale, "entry " + i);
    }
    for (int i = 1200; i < 1207; i++) {
      assertEquals(Float.floatToRawIntBits(g[i]), Float.floatToRawIntBits(out[i]), "bias " + i);
    }
    assertTrue(maxAbs(c.state().residual()) < 1e-5 * scale, "nothing left over");
  }

  @Test
  void everyWorkerDecompressesTheSameSumAndErrorFeedbackLosesNothing() {
    int workers = 3;
    List<PowerSgdCodec> codecs = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      codecs.add(new PowerSgdCodec(LAYOUT, 2, 11));
    }
    SplittableRandom rng = new SplittableRandom(5);
    double[] computed = new double[LAYOUT.length()];
    double[] delivered = new double[LAYOUT.length()];
    for (int step = 0; step < 6; step++) {
      List<float[]> grads = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        float[] g = gaussian(LAYOUT.length(), rng);
        grads.add(g);
        for (int i = 0; i < g.length; i++) {
          computed[i] += g[i];
        }
      }
      // the harness runs each phase for every worker; compare their outputs directly here
      float[] firstSum = new float[codecs.get(0).firstLength()];
      float[] buffer = new float[firstSum.length];
      for (int w = 0; w < workers; w++) {
        codecs.get(w).compress(grads.get(w), 0, buffer);
        CodecHarness.add(buffer, firstSum);
      }
      float[] secondSum = new float[codecs.get(0).secondLength()];
      float[] second = new float[secondSum.length];
      for (PowerSgdCodec c : codecs) {
        c.project(firstSum, second);
        CodecHarness.add(second, secondSum);
      }
      float[] first = null;
      for (int w = 0; w < workers; w++) {
        float[] out = new float[LAYOUT.length()];
        codecs.get(w).decompress(firstSum, secondSum, out, 0, 0, out.length);
        if (first == null) {
          first = out;
        } else {
          assertArrayEquals(first, out, "worker " + w + " decompresses what worker 0 does");
        }
      }
      for (int i = 0; i < first.length; i++) {
        delivered[i] += first[i];
      }
      // the uncompressed vector is the plain sum, in rank order
      for (int i = 1200; i < 1207; i++) {
        float sum = 0;
        for (float[] g : grads) {
          sum += g[i];
        }
        assertEquals(sum, first[i], "bias " + i + " at step " + step);
      }
    }
    for (int i = 0; i < computed.length; i++) {
      double left = 0;
      for (PowerSgdCodec c : codecs) {
        left += c.state().residual()[i];
      }
      assertEquals(computed[i], delivered[i] + left, 1e-4, "entry " + i + ": sent + residuals");
    }
  }

  @Test
  void aDecompressedRangeEqualsThatRangeOfTheWholeVector() {
    PowerSgdCodec whole = new PowerSgdCodec(LAYOUT, 3, 2);
    PowerSgdCodec shard = new PowerSgdCodec(LAYOUT, 3, 2);
    float[] g = gaussian(LAYOUT.length(), new SplittableRandom(9));
    float[] first = new float[whole.firstLength()];
    float[] second = new float[whole.secondLength()];
    whole.compress(g, 0, first);
    shard.compress(g, 0, first.clone());
    whole.project(first, second);
    shard.project(first, second.clone());
    float[] all = new float[LAYOUT.length()];
    whole.decompress(first, second, all, 0, 0, all.length);
    int from = 555; // inside W1, across b1, into W2
    int to = 1300;
    float[] part = new float[to - from + 4];
    shard.decompress(first, second, part, 4, from, to);
    for (int i = from; i < to; i++) {
      assertEquals(
          Float.floatToRawIntBits(all[i]), Float.floatToRawIntBits(part[4 + i - from]), "" + i);
    }
    assertEquals(whole.state(), shard.state());
  }

  @Test
  void savedStateContinuesBitForBit() {
    List<PowerSgdCodec> run =
        List.of(new PowerSgdCodec(LAYOUT, 2, 4), new PowerSgdCodec(LAYOUT, 2, 4));
    SplittableRandom rng = new SplittableRandom(8);
    List<List<float[]>> grads = new ArrayList<>();
    for (int s = 0; s < 10; s++) {
      grads.add(List.of(gaussian(LAYOUT.length(), rng), gaussian(LAYOUT.length(), rng)));
    }
    for (int s = 0; s < 5; s++) {
      CodecHarness.powerSgdStep(run, grads.get(s));
    }
    List<byte[]> saved = run.stream().map(c -> c.state().toBytes()).toList();
    List<float[]> expected = new ArrayList<>();
    for (int s = 5; s < 10; s++) {
      expected.add(CodecHarness.powerSgdStep(run, grads.get(s)));
    }
    List<PowerSgdCodec> resumed = new ArrayList<>();
    for (int w = 0; w < 2; w++) {
      PowerSgdCodec c = new PowerSgdCodec(LAYOUT, 2, 4);
      c.restore(CompressionState.fromBytes(saved.get(w), "worker-" + w));
      assertEquals(5, c.step());
      resumed.add(c);
    }
    for (int s = 5; s < 10; s++) {
      assertArrayEquals(
          expected.get(s - 5), CodecHarness.powerSgdStep(resumed, grads.get(s)), "step " + s);
    }
    for (int w = 0; w < 2; w++) {
      assertEquals(run.get(w).state(), resumed.get(w).state(), "worker " + w);
    }
  }

  @Test
  void stateCutByParameterRangeJoinsBackExactly() {
    PowerSgdCodec c = new PowerSgdCodec(LAYOUT, 2, 4);
    CodecHarness.powerSgdStep(
        List.of(c), List.of(gaussian(LAYOUT.length(), new SplittableRandom(1))));
    CompressionState s = c.state();
    int[] cuts = {0, 600, 1203, 1207, LAYOUT.length()}; // mid W1, mid b1, at W2's start
    List<CompressionState> shards = new ArrayList<>();
    for (int i = 0; i + 1 < cuts.length; i++) {
      shards.add(s.slice(cuts[i], cuts[i + 1]));
    }
    assertEquals(1, shards.get(0).factorOwners().length, "W1's Q goes with W1's first value");
    assertEquals(0, shards.get(1).factorOwners().length);
    assertEquals(1, shards.get(3).factorOwners().length, "W2's Q");
    assertEquals(s, CompressionState.concat(shards));
    PowerSgdCodec back = new PowerSgdCodec(LAYOUT, 2, 4);
    back.restore(CompressionState.concat(shards));
    assertEquals(s, back.state());
    IllegalArgumentException gap =
        assertThrows(
            IllegalArgumentException.class,
            () -> CompressionState.concat(List.of(shards.get(0), shards.get(2))));
    assertTrue(gap.getMessage().contains("starts at 1203, expected 600"), gap.getMessage());
  }

  @Test
  void restoreRefusesAnotherRankLayoutOrCodec() {
    CompressionState rank2 = new PowerSgdCodec(LAYOUT, 2, 4).state();
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> new PowerSgdCodec(LAYOUT, 3, 4).restore(rank2));
    assertTrue(e.getMessage().contains("rank 3"), e.getMessage());
    GradientLayout other = GradientLayout.of(List.of(new Tensor("W", 0, 1227, 1)));
    assertThrows(
        IllegalArgumentException.class, () -> new PowerSgdCodec(other, 2, 4).restore(rank2));
    assertThrows(
        IllegalArgumentException.class,
        () -> new PowerSgdCodec(LAYOUT, 2, 4).restore(new TopKCodec(LAYOUT, 0.1).state()));
    byte[] bytes = rank2.toBytes();
    IllegalArgumentException cut =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CompressionState.fromBytes(
                    java.util.Arrays.copyOf(bytes, bytes.length - 4), "x.bin"));
    assertTrue(cut.getMessage().startsWith("compression state x.bin, offset "), cut.getMessage());
  }

  @Test
  void phasesOutOfOrderFailLoudly() {
    PowerSgdCodec c = new PowerSgdCodec(LAYOUT, 2, 4);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> c.project(new float[c.firstLength()], new float[c.secondLength()]));
    assertTrue(e.getMessage().contains("expected COMPRESSED"), e.getMessage());
    c.compress(new float[LAYOUT.length()], 0, new float[c.firstLength()]);
    assertThrows(IllegalStateException.class, c::state);
  }

  /**
   * Distributed matrix least squares with heterogeneous workers: worker w minimises {@code 0.5 ||X
   * - T_w||^2} over a 30 x 20 matrix, the T_w full-rank and different, their mean T. Rank-1
   * PowerSGD with error feedback, plain gradient descent on the decompressed mean, reaches the
   * optimum (relative loss below 1e-4) although each step sends one rank-1 factor pair.
   */
  @Test
  void rankOneWithErrorFeedbackSolvesAFullRankLeastSquaresProblem() {
    int rows = 30;
    int cols = 20;
    int workers = 4;
    GradientLayout layout = GradientLayout.of(List.of(new Tensor("X", 0, rows, cols)));
    SplittableRandom rng = new SplittableRandom(42);
    float[][] targets = new float[workers][];
    double[] mean = new double[rows * cols];
    for (int w = 0; w < workers; w++) {
      targets[w] = gaussian(rows * cols, rng);
      for (int i = 0; i < mean.length; i++) {
        mean[i] += targets[w][i] / workers;
      }
    }
    List<PowerSgdCodec> codecs = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      codecs.add(new PowerSgdCodec(layout, 1, 42));
    }
    double[] x = new double[rows * cols];
    double initial = distance(x, mean);
    for (int step = 0; step < 400; step++) {
      List<float[]> grads = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        float[] g = new float[rows * cols];
        for (int i = 0; i < g.length; i++) {
          g[i] = (float) (x[i] - targets[w][i]);
        }
        grads.add(g);
      }
      float[] sum = CodecHarness.powerSgdStep(codecs, grads);
      for (int i = 0; i < x.length; i++) {
        x[i] -= 0.1 * sum[i] / workers;
      }
    }
    double relative = distance(x, mean) / initial;
    assertTrue(relative < 1e-4, "relative loss after 400 steps: " + relative);
  }

  private static double distance(double[] x, double[] target) {
    double s = 0;
    for (int i = 0; i < x.length; i++) {
      s += 0.5 * (x[i] - target[i]) * (x[i] - target[i]);
    }
    return s;
  }

  private static void fillRankTwo(float[] g, int offset, int rows, int cols, SplittableRandom rng) {
    double[][] u = new double[2][rows];
    double[][] v = new double[2][cols];
    for (int k = 0; k < 2; k++) {
      for (int i = 0; i < rows; i++) {
        u[k][i] = rng.nextGaussian();
      }
      for (int j = 0; j < cols; j++) {
        v[k][j] = rng.nextGaussian();
      }
    }
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        g[offset + i * cols + j] = (float) (u[0][i] * v[0][j] + u[1][i] * v[1][j]);
      }
    }
  }

  static float[] gaussian(int n, SplittableRandom rng) {
    float[] g = new float[n];
    for (int i = 0; i < n; i++) {
      g[i] = (float) rng.nextGaussian();
    }
    return g;
  }

  static double maxAbs(float[] a) {
    double m = 0;
    for (float v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }
}
