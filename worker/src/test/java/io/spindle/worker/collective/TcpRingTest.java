package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.WireFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The ring on 127.0.0.1 with peers as threads: algebra, wire formats, safety. */
class TcpRingTest {
  private final ExecutorService pool = Executors.newCachedThreadPool();
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();

  @AfterEach
  void stop() throws Exception {
    pool.shutdownNow();
    assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS), "peer threads must stop");
  }

  interface PeerWork {
    Object run(TcpRing ring) throws Exception;
  }

  /** Runs {@code size} peers; returns each peer's result or its exception. */
  List<Object> ring(
      int size,
      WireFormat wire,
      IntFunction<byte[]> secret,
      IntFunction<Long> version,
      int timeoutMillis,
      PeerWork work)
      throws Exception {
    List<TcpRing> rings = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      rings.add(TcpRing.bind("127.0.0.1", r, size, wire, version.apply(r), timeoutMillis));
    }
    List<String> endpoints = rings.stream().map(TcpRing::endpoint).toList();
    List<Future<Object>> futures = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      TcpRing ring = rings.get(r);
      int rank = r;
      futures.add(
          pool.submit(
              () -> {
                try (ring) {
                  ring.connect(endpoints, secret.apply(rank), 7);
                  return work.run(ring);
                } catch (Exception e) {
                  return e;
                }
              }));
    }
    List<Object> out = new ArrayList<>();
    for (Future<Object> f : futures) {
      out.add(f.get(60, TimeUnit.SECONDS));
    }
    return out;
  }

  static float[] vector(int rank, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (rank + 1) * 0.5f + i * 0.001f;
    }
    return v;
  }

  @ParameterizedTest(name = "{0} peers")
  @ValueSource(ints = {1, 2, 3, 4})
  void allReduceSumsEverywhere(int size) throws Exception {
    int n = 3 * TcpRing.BLOCK_VALUES + 17; // several blocks, uneven chunks
    List<Object> results =
        ring(
            size,
            WireFormat.FP32,
            r -> SECRET,
            r -> 1L,
            20000,
            ring -> {
              float[] v = vector(ring.rank(), n);
              ring.allReduce(v, TcpRing.bounds(n, ring.size()), 3);
              return v;
            });
    float[] expected = new float[n];
    for (int r = 0; r < size; r++) {
      float[] v = vector(r, n);
      for (int i = 0; i < n; i++) {
        expected[i] += v[i];
      }
    }
    for (Object result : results) {
      assertTrue(result instanceof float[], "peer failed: " + result);
      assertArrayEquals(expected, (float[]) result, 1e-4f);
    }
  }

  @Test
  void allReduceOfEqualVectorsIsSizeTimesTheVector() throws Exception {
    int n = 1000;
    List<Object> results =
        ring(
            3,
            WireFormat.FP32,
            r -> SECRET,
            r -> 1L,
            20000,
            ring -> {
              float[] v = vector(0, n);
              ring.allReduce(v, TcpRing.bounds(n, 3), 0);
              return v;
            });
    float[] t = vector(0, n);
    for (Object result : results) {
      for (int i = 0; i < n; i++) {
        assertEquals(3 * t[i], ((float[]) result)[i], 1e-5f);
      }
    }
  }

  @Test
  void bf16HalvesTheBytesAtThreeDigits() throws Exception {
    int n = 100_000;
    long[] bytes = new long[2];
    for (WireFormat wire : WireFormat.values()) {
      List<Object> results =
          ring(
              2,
              wire,
              r -> SECRET,
              r -> 1L,
              20000,
              ring -> {
                float[] v = vector(ring.rank(), n);
                ring.allReduce(v, TcpRing.bounds(n, 2), 0);
                return new Object[] {v, ring.bytesSent()};
              });
      float[] v = (float[]) ((Object[]) results.get(0))[0];
      for (int i = 0; i < n; i += 997) {
        float exact = vector(0, n)[i] + vector(1, n)[i];
        assertEquals(exact, v[i], Math.abs(exact) * (wire == WireFormat.FP32 ? 1e-6 : 1e-2));
      }
      bytes[wire.ordinal()] = (Long) ((Object[]) results.get(0))[1];
    }
    // all-reduce bound for 2 peers: 2 (N-1)/N x n values
    assertTrue(bytes[0] <= 1.01 * 4 * n, "fp32 sent " + bytes[0]);
    assertTrue(bytes[1] <= 1.01 * 2 * n, "bf16 sent " + bytes[1]);
  }

  @Test
  void aPeerWithTheWrongSecretIsRefusedAndTold() throws Exception {
    byte[] wrong = "ffffffffffffffffffffffffffffffff".getBytes();
    List<Object> results =
        ring(
            2,
            WireFormat.FP32,
            r -> r == 1 ? wrong : SECRET,
            r -> 1L,
            5000,
            ring -> {
              float[] v = vector(ring.rank(), 10);
              ring.allReduce(v, TcpRing.bounds(10, 2), 0);
              return v;
            });
    for (Object r : results) {
      assertTrue(r instanceof PeerAuthenticationException, "expected refusal, got " + r);
      String m = ((Exception) r).getMessage();
      assertTrue(m.contains("secret"), m);
    }
  }

  @Test
  void peersThatDisagreeOnTheModelFailLoudly() throws Exception {
    List<Object> results =
        ring(
            2,
            WireFormat.FP32,
            r -> SECRET,
            r -> (long) r,
            5000,
            ring -> {
              float[] v = vector(ring.rank(), 10);
              ring.allReduce(v, TcpRing.bounds(10, 2), 0);
              return v;
            });
    assertTrue(
        results.stream()
            .anyMatch(
                r ->
                    r instanceof CollectiveException e
                        && e.getMessage().contains("disagree on the step, the shape or the model")),
        results.toString());
  }

  @Test
  void peersThatDisagreeOnTheStepOrShapeFailLoudly() throws Exception {
    List<Object> steps =
        ring(
            2,
            WireFormat.FP32,
            r -> SECRET,
            r -> 1L,
            5000,
            ring -> {
              float[] v = vector(ring.rank(), 10);
              ring.allReduce(v, TcpRing.bounds(10, 2), ring.rank() == 0 ? 4 : 5);
              return v;
            });
    assertTrue(
        steps.stream()
            .anyMatch(r -> r instanceof CollectiveException e && e.getMessage().contains("step")),
        steps.toString());
    List<Object> shapes =
        ring(
            2,
            WireFormat.FP32,
            r -> SECRET,
            r -> 1L,
            5000,
            ring -> {
              int n = ring.rank() == 0 ? 10 : 12;
              float[] v = vector(ring.rank(), n);
              ring.allReduce(v, TcpRing.bounds(n, 2), 0);
              return v;
            });
    assertTrue(shapes.stream().anyMatch(r -> r instanceof CollectiveException), shapes.toString());
  }

  @Test
  void aMissingPeerTimesOutWithAClearError() throws Exception {
    TcpRing lonely = TcpRing.bind("127.0.0.1", 0, 2, WireFormat.FP32, 1L, 1000);
    TcpRing absent = TcpRing.bind("127.0.0.1", 1, 2, WireFormat.FP32, 1L, 1000);
    List<String> endpoints = List.of(lonely.endpoint(), absent.endpoint());
    absent.close(); // its listener is gone: nobody will ever answer
    Exception e;
    try (lonely) {
      e =
          org.junit.jupiter.api.Assertions.assertThrows(
              CollectiveException.class, () -> lonely.connect(endpoints, SECRET, 1));
    }
    assertTrue(e.getMessage().contains("rank 1"), e.getMessage());
  }

  @Test
  void bf16RoundTripsExactValuesAndKeepsNaN() {
    for (float f : new float[] {0f, 1f, -2f, 0.5f, 65536f}) {
      assertEquals(f, WireFormat.fromBf16(WireFormat.toBf16(f)));
    }
    assertTrue(Float.isNaN(WireFormat.fromBf16(WireFormat.toBf16(Float.NaN))));
    assertEquals(1.0f, WireFormat.fromBf16(WireFormat.toBf16(1.0009f)));
    assertTrue(Arrays.equals(new int[] {0, 3, 6, 10}, TcpRing.bounds(10, 3)));
  }
}
