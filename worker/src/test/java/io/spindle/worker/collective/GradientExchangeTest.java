package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.compress.CompressionState;
import io.spindle.compress.GradientLayout;
import io.spindle.compress.GradientLayout.Tensor;
import io.spindle.config.CompressionSpec;
import io.spindle.config.WireFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every gradient exchange over a real ring on 127.0.0.1 (workers as threads): every worker ends a
 * step with the same bits, error feedback loses nothing, a ZeRO-1 shard gets what the replicated
 * exchange gives on its range, and a restored state continues bit for bit.
 */
class GradientExchangeTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();

  /** Two weight matrices, their biases: 1,650 values. */
  static final GradientLayout LAYOUT =
      GradientLayout.of(
          List.of(
              new Tensor("W1", 0, 40, 30),
              new Tensor("b1", 1200, 1, 40),
              new Tensor("W2", 1240, 10, 40),
              new Tensor("b2", 1640, 1, 10)));

  static final int N = LAYOUT.length();
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws Exception {
    pool.shutdownNow();
    assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS), "worker threads must stop");
  }

  /** Worker w's gradient at step t: different per worker and step, with a shared low-rank part. */
  static float[] gradient(int worker, int step) {
    SplittableRandom rng = new SplittableRandom(1000L * worker + step);
    float[] g = new float[N];
    for (int i = 0; i < N; i++) {
      g[i] = (float) (rng.nextGaussian() + Math.sin(0.01 * i + step));
    }
    return g;
  }

  /** What one worker saw: the output of every step and its state afterwards. */
  record Run(List<float[]> outputs, List<float[]> inputs, CompressionState state) {}

  /**
   * Runs {@code size} workers for steps {@code [first, first + steps)}, each exchanging its
   * gradient (plus what the exchange keeps) with {@code spec}, sharded or not, from {@code
   * states[rank]} (null entries: fresh).
   */
  List<Run> run(
      CompressionSpec spec,
      int size,
      boolean sharded,
      int first,
      int steps,
      CompressionState[] states)
      throws Exception {
    List<TcpRing> rings = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      rings.add(TcpRing.bind("127.0.0.1", r, size, WireFormat.FP32, 1L, 20_000));
    }
    List<String> endpoints = rings.stream().map(TcpRing::endpoint).toList();
    List<Future<Run>> futures = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      TcpRing ring = rings.get(r);
      int rank = r;
      futures.add(
          pool.submit(
              () -> {
                try (ring) {
                  ring.connect(endpoints, SECRET, 1);
                  GradientExchange x = GradientExchange.create(spec, ring, LAYOUT, 42L);
                  x.restore(states == null ? null : states[rank]);
                  int[] b = TcpRing.bounds(N, size);
                  int from = sharded ? b[rank] : 0;
                  int to = sharded ? b[rank + 1] : N;
                  List<float[]> outs = new ArrayList<>();
                  List<float[]> ins = new ArrayList<>();
                  for (int t = first; t < first + steps; t++) {
                    float[] g = gradient(rank, t);
                    ins.add(g.clone());
                    x.reduce(g, from, to, t);
                    outs.add(Arrays.copyOfRange(g, from, to));
                  }
                  return new Run(outs, ins, x.state());
                }
              }));
    }
    List<Run> out = new ArrayList<>();
    for (Future<Run> f : futures) {
      out.add(f.get(60, TimeUnit.SECONDS));
    }
    return out;
  }

  static CompressionSpec spec(String text) {
    return CompressionSpec.parse(text);
  }

  static void assertBitsEqual(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
        throw new AssertionError(
            what + ": value " + i + " is " + actual[i] + ", expected " + expected[i]);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"none", "bf16", "powersgd:2", "topk:0.05"})
  void everyWorkerEndsEveryStepWithTheSameBits(String scheme) throws Exception {
    List<Run> runs = run(spec(scheme), 3, false, 0, 5, null);
    for (int t = 0; t < 5; t++) {
      for (int r = 1; r < 3; r++) {
        assertBitsEqual(
            runs.get(0).outputs().get(t), runs.get(r).outputs().get(t), "rank " + r + " step " + t);
      }
    }
  }

  @Test
  void noneIsTheExactSumAndKeepsNoState() throws Exception {
    List<Run> runs = run(spec("none"), 2, false, 0, 2, null);
    for (int t = 0; t < 2; t++) {
      float[] g0 = gradient(0, t);
      float[] g1 = gradient(1, t);
      for (int i = 0; i < N; i++) {
        assertEquals(g0[i] + g1[i], runs.get(0).outputs().get(t)[i], 0f);
      }
    }
    assertNull(runs.get(0).state());
  }

  /**
   * Error feedback: {@code sum_w E_w(T) + sum_t out_t = sum_t sum_w G_w(t)} up to float rounding,
   * and a lossy scheme does change the output (so the identity is not trivial).
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"bf16", "powersgd:1", "topk:0.02"})
  void errorFeedbackLosesNothingOnlyDelays(String scheme) throws Exception {
    int size = 3;
    int steps = 6;
    List<Run> runs = run(spec(scheme), size, false, 0, steps, null);
    double[] lhs = new double[N];
    double[] rhs = new double[N];
    double maxExactDiff = 0;
    for (int t = 0; t < steps; t++) {
      float[] out = runs.get(0).outputs().get(t);
      for (int i = 0; i < N; i++) {
        lhs[i] += out[i];
        double exact = 0;
        for (int w = 0; w < size; w++) {
          exact += gradient(w, t)[i];
        }
        rhs[i] += exact;
        maxExactDiff = Math.max(maxExactDiff, Math.abs(out[i] - exact));
      }
    }
    for (Run r : runs) {
      float[] e = r.state().residual();
      for (int i = 0; i < N; i++) {
        lhs[i] += e[i];
      }
    }
    double scale = 0;
    double err = 0;
    for (int i = 0; i < N; i++) {
      scale = Math.max(scale, Math.abs(rhs[i]));
      err = Math.max(err, Math.abs(lhs[i] - rhs[i]));
    }
    assertTrue(err <= 1e-4 * scale, scheme + ": identity off by " + err + " of " + scale);
    assertTrue(maxExactDiff > 1e-3, scheme + " should approximate, but equals the exact sum");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"none", "powersgd:2", "topk:0.05"})
  void aShardGetsWhatTheReplicatedExchangeGivesOnItsRange(String scheme) throws Exception {
    int size = 3;
    List<Run> replicated = run(spec(scheme), size, false, 0, 4, null);
    List<Run> sharded = run(spec(scheme), size, true, 0, 4, null);
    int[] b = TcpRing.bounds(N, size);
    for (int r = 0; r < size; r++) {
      for (int t = 0; t < 4; t++) {
        assertBitsEqual(
            Arrays.copyOfRange(replicated.get(r).outputs().get(t), b[r], b[r + 1]),
            sharded.get(r).outputs().get(t),
            "rank " + r + " step " + t);
      }
      if (replicated.get(r).state() != null) {
        assertEquals(replicated.get(r).state(), sharded.get(r).state(), "rank " + r + " state");
      }
    }
  }

  /** bf16 sharded: the owner keeps its chunk's fp32 sum, so only the ring's hops round. */
  @Test
  void bf16ShardKeepsItsFp32SumAndTheIdentity() throws Exception {
    int size = 3;
    List<Run> sharded = run(spec("bf16"), size, true, 0, 1, null);
    int[] b = TcpRing.bounds(N, size);
    for (int r = 0; r < size; r++) {
      float[] out = sharded.get(r).outputs().get(0);
      for (int i = b[r]; i < b[r + 1]; i++) {
        double exact = 0;
        double residuals = 0;
        for (int w = 0; w < size; w++) {
          exact += gradient(w, 0)[i];
          residuals += sharded.get(w).state().residual()[i];
        }
        assertEquals(exact, out[i - b[r]] + residuals, 1e-5 * Math.max(1, Math.abs(exact)));
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"bf16", "powersgd:2", "topk:0.05"})
  void anExchangeRestoredFromItsStateContinuesBitForBit(String scheme) throws Exception {
    int size = 2;
    List<Run> whole = run(spec(scheme), size, false, 0, 6, null);
    List<Run> head = run(spec(scheme), size, false, 0, 3, null);
    CompressionState[] states = new CompressionState[size];
    for (int r = 0; r < size; r++) {
      // through bytes, as the driver and a checkpoint carry it
      states[r] = CompressionState.fromBytes(head.get(r).state().toBytes(), "test");
    }
    List<Run> tail = run(spec(scheme), size, false, 3, 3, states);
    for (int r = 0; r < size; r++) {
      for (int t = 0; t < 3; t++) {
        assertBitsEqual(
            whole.get(r).outputs().get(3 + t),
            tail.get(r).outputs().get(t),
            "rank " + r + " step " + (3 + t));
      }
      assertEquals(whole.get(r).state(), tail.get(r).state(), "rank " + r + " final state");
    }
    // and a fresh start would not have continued the same way
    List<Run> fresh = run(spec(scheme), size, false, 3, 3, null);
    assertNotEquals(whole.get(0).state(), fresh.get(0).state());
  }

  @Test
  void aStateOfAnotherSchemeOrLayoutIsRefused() throws Exception {
    List<Run> topk = run(spec("topk:0.05"), 2, false, 0, 1, null);
    CompressionState state = topk.get(0).state();
    TcpRing alone = TcpRing.bind("127.0.0.1", 0, 1, WireFormat.FP32, 1L, 1000);
    try (alone) {
      GradientExchange bf16 = GradientExchange.create(spec("bf16"), alone, LAYOUT, 1);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> bf16.restore(state));
      assertTrue(e.getMessage().contains("expected a bf16 state"), e.getMessage());
      GradientExchange none = GradientExchange.create(spec("none"), alone, LAYOUT, 1);
      assertThrows(IllegalArgumentException.class, () -> none.restore(state));
      GradientExchange other =
          GradientExchange.create(spec("topk:0.05"), alone, GradientLayout.vector(N), 1);
      assertThrows(IllegalArgumentException.class, () -> other.restore(state));
    }
  }

  /** Two exchanges of one step carry different tags, so peers running different ones fail. */
  @Test
  void peersInDifferentExchangesOfAStepFailLoudly() throws Exception {
    List<TcpRing> rings = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      rings.add(TcpRing.bind("127.0.0.1", r, 2, WireFormat.FP32, 1L, 5_000));
    }
    List<String> endpoints = rings.stream().map(TcpRing::endpoint).toList();
    List<Future<Object>> futures = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      TcpRing ring = rings.get(r);
      int tag = r;
      futures.add(
          pool.submit(
              () -> {
                try (ring) {
                  ring.connect(endpoints, SECRET, 1);
                  float[] v = new float[10];
                  ring.allReduce(v, TcpRing.bounds(10, 2), 5, tag, WireFormat.FP32, null);
                  return v;
                } catch (RuntimeException e) {
                  return e;
                }
              }));
    }
    String messages = "";
    for (Future<Object> f : futures) {
      Object o = f.get(30, TimeUnit.SECONDS);
      assertTrue(o instanceof CollectiveException, "expected a failure, got " + o);
      messages += ((Exception) o).getMessage() + "\n";
    }
    assertTrue(messages.contains("peers disagree"), messages);
  }

  @Test
  void bf16RoundingIsExactOnTheWireAndKeptAsResidual() throws Exception {
    List<Run> runs = run(spec("bf16"), 2, false, 0, 1, null);
    float[] out = runs.get(0).outputs().get(0);
    for (float v : out) {
      assertEquals(v, WireFormat.fromBf16(WireFormat.toBf16(v)), 0f, "outputs are bf16 values");
    }
    float[] e = runs.get(0).state().residual();
    assertTrue(Arrays.stream(toDoubles(e)).anyMatch(x -> x != 0), "rounding leaves residuals");
    assertArrayEquals(out, runs.get(1).outputs().get(0));
  }

  private static double[] toDoubles(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }
}
