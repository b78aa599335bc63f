package io.spindle.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The ring-wide exchange state: bytes, malformed input, and regrouping for another ring size. */
class ExchangeStateTest {
  static CompressionState state(int worker, int n, boolean factors) {
    SplittableRandom rng = new SplittableRandom(worker);
    float[] e = new float[n];
    for (int i = 0; i < n; i++) {
      e[i] = (float) rng.nextGaussian();
    }
    return new CompressionState(
        factors ? "powersgd" : "topk",
        0xABCDL,
        0,
        e,
        17,
        factors ? new int[] {0, 20} : new int[0],
        factors ? new int[] {3, 2} : new int[0],
        factors ? new float[] {1, 2, 3, 4, 5} : new float[0]);
  }

  static ExchangeState ring(int workers, boolean factors) {
    List<CompressionState> s = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      s.add(state(w, 40, factors));
    }
    return new ExchangeState(factors ? "powersgd:2" : "topk:0.01", s);
  }

  @Test
  void bytesRoundTripExactly() {
    ExchangeState s = ring(3, true);
    ExchangeState back = ExchangeState.fromBytes(s.toBytes(), "test");
    assertEquals(s, back);
    assertEquals("powersgd:2", back.scheme());
    byte[][] parts = s.perWorker();
    assertEquals(3, parts.length);
    assertEquals(s.workers().get(2), CompressionState.fromBytes(parts[2], "part"));
  }

  @Test
  void malformedBytesAreRefusedWithSourceAndOffset() {
    byte[] good = ring(2, false).toBytes();
    byte[] truncated = Arrays.copyOf(good, good.length - 3);
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> ExchangeState.fromBytes(truncated, "compression.bin"))
            .getMessage();
    assertTrue(m.startsWith("exchange state compression.bin, offset "), m);
    byte[] longer = Arrays.copyOf(good, good.length + 4);
    m =
        assertThrows(IllegalArgumentException.class, () -> ExchangeState.fromBytes(longer, "x.bin"))
            .getMessage();
    assertTrue(m.contains("4 bytes after the last worker's state"), m);
    byte[] magic = good.clone();
    magic[0] = 0;
    m =
        assertThrows(IllegalArgumentException.class, () -> ExchangeState.fromBytes(magic, "y"))
            .getMessage();
    assertTrue(m.contains("offset 0: magic"), m);
  }

  @Test
  void workersOfDifferentCodecsOrLayoutsAreRefused() {
    assertThrows(
        IllegalArgumentException.class,
        () -> new ExchangeState("x", List.of(state(0, 40, true), state(1, 40, false))));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ExchangeState("x", List.of(state(0, 40, false), state(1, 41, false))));
  }

  /** N -> M workers: rank 0 gets the residuals' sum, the others zero; factors and step carried. */
  @Test
  void anotherRingSizeKeepsTheSumOfTheResiduals() {
    ExchangeState three = ring(3, true);
    assertSame(three, three.forWorkers(3));
    for (int m : new int[] {1, 2, 5}) {
      ExchangeState regrouped = three.forWorkers(m);
      assertEquals(m, regrouped.workers().size());
      float[] expected = new float[40];
      for (CompressionState w : three.workers()) {
        float[] e = w.residual();
        for (int i = 0; i < 40; i++) {
          expected[i] += e[i];
        }
      }
      float[] total = new float[40];
      for (CompressionState w : regrouped.workers()) {
        assertEquals(17, w.step());
        assertArrayEquals(three.workers().get(0).factors(), w.factors());
        assertArrayEquals(three.workers().get(0).factorOwners(), w.factorOwners());
        float[] e = w.residual();
        for (int i = 0; i < 40; i++) {
          total[i] += e[i];
        }
      }
      assertArrayEquals(expected, regrouped.workers().get(0).residual(), 0f);
      assertArrayEquals(expected, total, 0f);
    }
  }
}
