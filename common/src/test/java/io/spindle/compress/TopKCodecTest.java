package io.spindle.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Top-k's selection, wire format and error feedback, and the reason error feedback exists: with it,
 * top-1% converges on a problem where top-1% without it stalls.
 */
class TopKCodecTest {
  @Test
  void sendsTheKLargestMagnitudesAscendingByIndexLowestIndexOnTies() {
    GradientLayout layout = GradientLayout.vector(10);
    TopKCodec c = new TopKCodec(layout, 0.3);
    assertEquals(3, c.k());
    float[] g = {0.5f, -4f, 2f, 2f, 0f, 3f, -2f, 1f, 2f, 0.1f};
    float[] wire = new float[c.wireLength()];
    c.compress(g, 0, wire, 0);
    // |values|: 4 (1), 3 (5), then 2 at 2, 3, 6, 8: the tie goes to index 2
    assertArrayEquals(new int[] {1, 2, 5}, indices(wire, 3));
    assertArrayEquals(new float[] {-4f, 2f, 3f}, values(wire, 3));
    float[] residual = c.state().residual();
    assertArrayEquals(new float[] {0.5f, 0f, 0f, 2f, 0f, 0f, -2f, 1f, 2f, 0.1f}, residual);
    // next step the residual is added in: index 3 now holds 2 + 2
    c.compress(new float[] {0, 0, 0, 2f, 0, 0, 0, 0, 0, 0}, 0, wire, 0);
    assertArrayEquals(new int[] {3, 6, 8}, indices(wire, 3));
    assertThrows(IllegalArgumentException.class, () -> new TopKCodec(layout, 0));
    assertThrows(IllegalArgumentException.class, () -> new TopKCodec(layout, 1.5));
  }

  @Test
  void kthLargestAgreesWithSortingWithAndWithoutDuplicates() {
    SplittableRandom rng = new SplittableRandom(17);
    for (int trial = 0; trial < 200; trial++) {
      int n = 1 + rng.nextInt(300);
      float[] a = new float[n];
      for (int i = 0; i < n; i++) {
        a[i] = trial % 2 == 0 ? rng.nextInt(5) : (float) Math.abs(rng.nextGaussian());
      }
      float[] sorted = a.clone();
      Arrays.sort(sorted);
      int k = 1 + rng.nextInt(n);
      assertEquals(sorted[n - k], TopKCodec.kthLargest(a.clone(), n, k), "trial " + trial);
    }
  }

  @Test
  void pairsSurviveTheWireAndSumByRangeInRankOrder() {
    int n = 3_000_000; // indices above 2^21 as float bits
    GradientLayout layout = GradientLayout.vector(n);
    List<TopKCodec> workers = List.of(new TopKCodec(layout, 1e-5), new TopKCodec(layout, 1e-5));
    int k = workers.get(0).k();
    assertEquals(30, k);
    SplittableRandom rng = new SplittableRandom(2);
    List<float[]> grads = new ArrayList<>();
    for (int w = 0; w < 2; w++) {
      float[] g = new float[n];
      for (int i = 0; i < n; i++) {
        g[i] = (float) rng.nextGaussian();
      }
      g[n - 1] = 100f; // the last index is sent by both
      grads.add(g);
    }
    float[] whole = CodecHarness.topKStep(workers, grads, n);
    assertEquals(200f, whole[n - 1]);
    // the same pairs, accumulated shard by shard, give the same sums
    float[] gathered = new float[2 * workers.get(0).wireLength()];
    List<TopKCodec> again = List.of(new TopKCodec(layout, 1e-5), new TopKCodec(layout, 1e-5));
    for (int w = 0; w < 2; w++) {
      again.get(w).compress(grads.get(w), 0, gathered, w * 2 * k);
    }
    int[] cuts = {0, 1_000_000, 2_999_999, n};
    float[] byShard = new float[n];
    for (int s = 0; s + 1 < cuts.length; s++) {
      float[] shard = new float[cuts[s + 1] - cuts[s]];
      for (int w = 0; w < 2; w++) {
        TopKCodec.accumulate(gathered, w * 2 * k, k, shard, 0, cuts[s], cuts[s + 1]);
      }
      System.arraycopy(shard, 0, byShard, cuts[s], shard.length);
    }
    assertArrayEquals(whole, byShard);
  }

  @Test
  void errorFeedbackLosesNothingAndStateContinuesBitForBit() {
    int n = 500;
    GradientLayout layout = GradientLayout.vector(n);
    List<TopKCodec> run = List.of(new TopKCodec(layout, 0.02), new TopKCodec(layout, 0.02));
    SplittableRandom rng = new SplittableRandom(4);
    double[] computed = new double[n];
    double[] delivered = new double[n];
    List<List<float[]>> grads = new ArrayList<>();
    for (int s = 0; s < 20; s++) {
      grads.add(List.of(PowerSgdCodecTest.gaussian(n, rng), PowerSgdCodecTest.gaussian(n, rng)));
    }
    List<byte[]> saved = null;
    List<float[]> expected = new ArrayList<>();
    for (int s = 0; s < 20; s++) {
      if (s == 10) {
        saved = run.stream().map(c -> c.state().toBytes()).toList();
      }
      for (float[] g : grads.get(s)) {
        for (int i = 0; i < n; i++) {
          computed[i] += g[i];
        }
      }
      float[] out = CodecHarness.topKStep(run, grads.get(s), n);
      for (int i = 0; i < n; i++) {
        delivered[i] += out[i];
      }
      if (s >= 10) {
        expected.add(out);
      }
    }
    for (int i = 0; i < n; i++) {
      double left = run.get(0).state().residual()[i] + run.get(1).state().residual()[i];
      assertEquals(computed[i], delivered[i] + left, 1e-4, "entry " + i + ": sent + residuals");
    }
    List<TopKCodec> resumed = new ArrayList<>();
    for (int w = 0; w < 2; w++) {
      TopKCodec c = new TopKCodec(layout, 0.02);
      c.restore(CompressionState.fromBytes(saved.get(w), "worker-" + w));
      resumed.add(c);
    }
    for (int s = 10; s < 20; s++) {
      assertArrayEquals(
          expected.get(s - 10), CodecHarness.topKStep(resumed, grads.get(s), n), "step " + s);
    }
    CompressionState end = run.get(1).state();
    assertEquals(end, resumed.get(1).state());
    assertEquals(
        end,
        CompressionState.concat(
            List.of(end.slice(0, 123), end.slice(123, 400), end.slice(400, n))));
    assertThrows(
        IllegalArgumentException.class,
        () -> new TopKCodec(GradientLayout.vector(n + 1), 0.02).restore(end));
  }

  /**
   * Distributed least squares with heterogeneous data, d = 1000, N = 4 workers, k = 1% (10 entries
   * per worker and step). Worker w minimises {@code f_w(x) = 0.5 sum_i l_i (x_i - x*_i - c_wi)^2}:
   * its data pull 10 coordinates by +-10 away from the common optimum, in opposite directions on
   * alternate workers, so the c_w sum to zero and the global objective {@code f = mean_w f_w} is
   * minimised at x*. Each step the workers send their top-1% of the gradient and x moves by {@code
   * -eta * (sum of what arrived) / N}.
   *
   * <p>Without error feedback every worker sends the same 10 pulled coordinates forever: their sum
   * fixes those 10, and the other 990 never move, so the loss stalls above 99% of its start. With
   * error feedback the unsent gradient accumulates until it is sent, and the loss falls below 1e-3
   * of its start (the floor shrinks with eta^2, as the theory of Stich et al. 2018 predicts).
   */
  @Test
  void errorFeedbackMakesTopOnePercentConvergeWhereItStallsWithout() {
    int d = 1000;
    int workers = 4;
    int steps = 3000;
    double eta = 0.01;
    SplittableRandom rng = new SplittableRandom(42);
    double[] lambda = new double[d];
    double[] optimum = new double[d];
    for (int i = 0; i < d; i++) {
      lambda[i] = 0.5 + rng.nextDouble();
      optimum[i] = rng.nextGaussian();
    }
    double[][] pull = new double[workers][d];
    for (int j = 0; j < 10; j++) {
      int i = rng.nextInt(d);
      double sign = rng.nextBoolean() ? 1 : -1;
      for (int w = 0; w < workers; w++) {
        pull[w][i] = (w % 2 == 0 ? 10 : -10) * sign;
      }
    }
    double[] without = descend(d, workers, steps, eta, lambda, optimum, pull, false);
    double[] with = descend(d, workers, steps, eta, lambda, optimum, pull, true);
    System.out.printf(
        "top-1%%, relative loss at steps 0, %d, %d: without error feedback %.4f, %.4f, %.4f;"
            + " with %.4f, %.2e, %.2e%n",
        steps / 2, steps, without[0], without[1], without[2], with[0], with[1], with[2]);
    assertTrue(
        without[2] > 0.9, "without error feedback the loss stalls near its start: " + without[2]);
    assertEquals(
        without[1], without[2], 1e-6, "without error feedback: no progress in the 2nd half");
    assertTrue(with[2] < 1e-3, "with error feedback the loss converges: " + with[2]);
  }

  /** Relative loss f(x) / f(x0) after the first step, half-way and at the end. */
  private static double[] descend(
      int d,
      int workers,
      int steps,
      double eta,
      double[] lambda,
      double[] optimum,
      double[][] pull,
      boolean errorFeedback) {
    GradientLayout layout = GradientLayout.vector(d);
    List<TopKCodec> codecs = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      codecs.add(new TopKCodec(layout, 0.01));
    }
    CompressionState empty = codecs.get(0).state();
    double[] x = new double[d];
    double start = loss(x, lambda, optimum);
    double[] out = new double[3];
    for (int t = 0; t < steps; t++) {
      List<float[]> grads = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        if (!errorFeedback) {
          codecs.get(w).restore(empty); // drop what was not sent: plain top-k
        }
        float[] g = new float[d];
        for (int i = 0; i < d; i++) {
          g[i] = (float) (lambda[i] * (x[i] - optimum[i] - pull[w][i]));
        }
        grads.add(g);
      }
      float[] sum = CodecHarness.topKStep(codecs, grads, d);
      for (int i = 0; i < d; i++) {
        x[i] -= eta * sum[i] / workers;
      }
      if (t == 0) {
        out[0] = loss(x, lambda, optimum) / start;
      } else if (t == steps / 2 - 1) {
        out[1] = loss(x, lambda, optimum) / start;
      }
    }
    out[2] = loss(x, lambda, optimum) / start;
    return out;
  }

  private static double loss(double[] x, double[] lambda, double[] optimum) {
    double s = 0;
    for (int i = 0; i < x.length; i++) {
      s += 0.5 * lambda[i] * (x[i] - optimum[i]) * (x[i] - optimum[i]);
    }
    return s;
  }

  private static int[] indices(float[] wire, int k) {
    int[] out = new int[k];
    for (int p = 0; p < k; p++) {
      out[p] = Float.floatToRawIntBits(wire[2 * p]);
    }
    return out;
  }

  private static float[] values(float[] wire, int k) {
    float[] out = new float[k];
    for (int p = 0; p < k; p++) {
      out[p] = wire[2 * p + 1];
    }
    return out;
  }
}
