package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.RingTransport;
import io.spindle.config.WireFormat;
import io.spindle.data.ShardAssignment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The ring's in-process transport ({@link LocalLink}) against TCP: bit-identical results and byte
 * counts for every operation, wire format and hook, mixed rings, and prompt failures.
 */
class InProcessRingTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();
  private static final byte[] OTHER_SECRET = "fedcba9876543210fedcba9876543210".getBytes();
  // several blocks, uneven chunks
  private static final int N = 2 * TcpRing.BLOCK_VALUES + 1001;
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws Exception {
    pool.shutdownNow();
    assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS), "peer threads must stop");
  }

  interface PeerWork {
    Object run(TcpRing ring) throws Exception;
  }

  /** What a peer returns: its values (or its exception), bytes sent and transport. */
  record Outcome(Object value, long bytesSent, boolean inProcess) {}

  /**
   * Runs {@code tokens.length} peers: peer r announces JVM {@code tokens[r]} (null: TCP only);
   * peers with equal tokens pair in process.
   */
  List<Outcome> ring(
      String[] tokens,
      WireFormat wire,
      IntFunction<byte[]> secret,
      int timeoutMillis,
      PeerWork work)
      throws Exception {
    int size = tokens.length;
    List<TcpRing> rings = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      rings.add(TcpRing.bind("127.0.0.1", r, size, wire, 1L, timeoutMillis, tokens[r]));
    }
    List<String> endpoints = rings.stream().map(TcpRing::endpoint).toList();
    List<Future<Outcome>> futures = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      TcpRing ring = rings.get(r);
      int rank = r;
      futures.add(
          pool.submit(
              () -> {
                try (ring) {
                  Object value;
                  try {
                    ring.connect(endpoints, secret.apply(rank), 7);
                    value = work.run(ring);
                  } catch (Exception e) {
                    value = e;
                  }
                  return new Outcome(value, ring.bytesSent(), ring.inProcess());
                }
              }));
    }
    List<Outcome> out = new ArrayList<>();
    for (Future<Outcome> f : futures) {
      out.add(f.get(60, TimeUnit.SECONDS));
    }
    return out;
  }

  static String[] tcp(int size) {
    return new String[size];
  }

  static String[] oneJvm(int size) {
    String[] t = new String[size];
    Arrays.fill(t, LocalLink.JVM_TOKEN);
    return t;
  }

  /** Values of mixed signs and magnitudes, so that the order of the additions shows in the bits. */
  static float[] values(int rank, int n) {
    Random random = new Random(1000 + rank);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(7) - 3));
    }
    return v;
  }

  /**
   * One peer's work: reduce-scatter, then (separately) all-gather, then an all-reduce with a hook
   * that rounds what it sends to bf16 and keeps the rest (error feedback, as {@link Bf16Exchange});
   * returns everything it computed, concatenated.
   */
  static float[] everyOperation(TcpRing ring, WireFormat wire) {
    int[] bounds = TcpRing.bounds(N, ring.size());
    float[] rs = values(ring.rank(), N);
    ring.reduceScatter(rs, bounds, 3, 0, wire, null);
    float[] ag = rs.clone();
    ring.allGather(ag, bounds, 3, 0, wire, null);
    float[] hooked = values(ring.rank() + 10, N);
    float[] residual = new float[N];
    ring.allReduce(
        hooked,
        bounds,
        4,
        1,
        wire,
        (data, from, to) -> {
          for (int i = from; i < to; i++) {
            float rounded = WireFormat.fromBf16(WireFormat.toBf16(data[i]));
            residual[i] += data[i] - rounded;
            data[i] = rounded;
          }
        });
    float[] out = new float[4 * N];
    System.arraycopy(rs, 0, out, 0, N);
    System.arraycopy(ag, 0, out, N, N);
    System.arraycopy(hooked, 0, out, 2 * N, N);
    System.arraycopy(residual, 0, out, 3 * N, N);
    return out;
  }

  static void assertSameAsTcp(List<Outcome> tcp, List<Outcome> other) {
    for (int r = 0; r < tcp.size(); r++) {
      Object expected = tcp.get(r).value();
      Object actual = other.get(r).value();
      if (expected instanceof Exception e) {
        throw new AssertionError("TCP peer " + r + " failed", e);
      }
      if (actual instanceof Exception e) {
        throw new AssertionError("peer " + r + " failed", e);
      }
      assertArrayEquals((float[]) expected, (float[]) actual, "rank " + r + " differs in some bit");
      assertEquals(
          tcp.get(r).bytesSent(),
          other.get(r).bytesSent(),
          "rank " + r + " must count the bytes TCP sends");
    }
  }

  @ParameterizedTest(name = "{0} peers, {1}")
  @CsvSource({"2, FP32", "3, FP32", "4, FP32", "2, BF16", "3, BF16", "4, BF16"})
  void inProcessEqualsTcpBitForBit(int size, WireFormat wire) throws Exception {
    List<Outcome> tcp = ring(tcp(size), wire, r -> SECRET, 20_000, r -> everyOperation(r, wire));
    List<Outcome> local =
        ring(oneJvm(size), wire, r -> SECRET, 20_000, r -> everyOperation(r, wire));
    assertSameAsTcp(tcp, local);
    tcp.forEach(o -> assertFalse(o.inProcess(), "tcp must not use in-process links"));
    local.forEach(o -> assertTrue(o.inProcess(), "peers of one JVM must pair in process"));
  }

  /** Peers 0 and 1 in one "JVM", 2 and 3 in another, peer 4 TCP only: some links of each kind. */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"FP32", "BF16"})
  void mixedRingsEqualTcp(WireFormat wire) throws Exception {
    String[] tokens = {LocalLink.JVM_TOKEN, LocalLink.JVM_TOKEN, "other-jvm", "other-jvm", null};
    List<Outcome> tcp = ring(tcp(5), wire, r -> SECRET, 20_000, r -> everyOperation(r, wire));
    List<Outcome> mixed = ring(tokens, wire, r -> SECRET, 20_000, r -> everyOperation(r, wire));
    assertSameAsTcp(tcp, mixed);
    boolean[] expected = {true, true, true, true, false};
    for (int r = 0; r < 5; r++) {
      assertEquals(expected[r], mixed.get(r).inProcess(), "rank " + r + "'s transport");
    }
  }

  /** {@link ShardRing} (its {@code shift}s over the ring) in process equals TCP. */
  @ParameterizedTest(name = "{0} shards on {1} workers, {2}")
  @CsvSource({"3, 2, FP32", "5, 2, FP32", "7, 3, FP32", "6, 4, FP32", "4, 2, BF16", "5, 3, BF16"})
  void shardRingInProcessEqualsTcp(int l, int m, WireFormat wire) throws Exception {
    ShardAssignment a = new ShardAssignment(l, m);
    PeerWork work =
        ring -> {
          ShardRing shards = new ShardRing(ring, a, wire);
          int first = a.first(ring.rank());
          float[][] mine = new float[a.count(ring.rank())][];
          for (int i = 0; i < mine.length; i++) {
            mine[i] = values(first + i, N);
          }
          shards.reduceScatter(mine, 5);
          float[] out = new float[N];
          shards.gather(mine, out);
          ring.allGather(out, ShardRing.workerBounds(a, N), 5);
          return out;
        };
    List<Outcome> tcp = ring(tcp(m), wire, r -> SECRET, 20_000, work);
    List<Outcome> local = ring(oneJvm(m), wire, r -> SECRET, 20_000, work);
    assertSameAsTcp(tcp, local);
  }

  @Test
  void theConfigSwitchPicksTheTransport() throws Exception {
    try (TcpRing auto =
            TcpRing.bind("127.0.0.1", 0, 2, WireFormat.FP32, 1L, 1000, RingTransport.AUTO);
        TcpRing tcp =
            TcpRing.bind("127.0.0.1", 0, 2, WireFormat.FP32, 1L, 1000, RingTransport.TCP);
        TcpRing plain = TcpRing.bind("127.0.0.1", 0, 2, WireFormat.FP32, 1L, 1000)) {
      assertTrue(auto.endpoint().endsWith(";jvm=" + LocalLink.JVM_TOKEN), auto.endpoint());
      assertFalse(tcp.endpoint().contains(";"), tcp.endpoint());
      assertFalse(plain.endpoint().contains(";"), "bind without a transport stays TCP");
    }
  }

  /** An auto peer next to a TCP-only peer of the same JVM talks TCP with it. */
  @Test
  void aTcpOnlyNeighbourGetsTcp() throws Exception {
    List<Outcome> out =
        ring(
            new String[] {LocalLink.JVM_TOKEN, null},
            WireFormat.FP32,
            r -> SECRET,
            20_000,
            r -> everyOperation(r, WireFormat.FP32));
    List<Outcome> tcp =
        ring(tcp(2), WireFormat.FP32, r -> SECRET, 20_000, r -> everyOperation(r, WireFormat.FP32));
    assertSameAsTcp(tcp, out);
    assertFalse(out.get(0).inProcess());
    assertFalse(out.get(1).inProcess());
  }

  @Test
  void aWrongSecretCannotAttach() throws Exception {
    long start = System.nanoTime();
    List<Outcome> out =
        ring(
            oneJvm(2),
            WireFormat.FP32,
            r -> r == 1 ? OTHER_SECRET : SECRET,
            1000,
            ring -> {
              float[] v = values(ring.rank(), 10);
              ring.allReduce(v, TcpRing.bounds(10, 2), 0);
              return v;
            });
    for (int r = 0; r < 2; r++) {
      Object v = out.get(r).value();
      assertInstanceOf(CollectiveException.class, v, "rank " + r + " must not pair: " + v);
      assertTrue(
          ((Exception) v).getMessage().contains("to connect in process"),
          ((Exception) v).getMessage());
      assertEquals(0, out.get(r).bytesSent(), "no data may flow");
    }
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30));
  }

  @Test
  void peersThatDisagreeOnTheStepFailAsOverTcp() throws Exception {
    PeerWork work =
        ring -> {
          float[] v = values(ring.rank(), N);
          ring.allReduce(v, TcpRing.bounds(N, 2), ring.rank() == 0 ? 4 : 5);
          return v;
        };
    List<Outcome> tcp = ring(tcp(2), WireFormat.FP32, r -> SECRET, 5_000, work);
    List<Outcome> local = ring(oneJvm(2), WireFormat.FP32, r -> SECRET, 5_000, work);
    // over TCP the rank that reads the mismatched header first fails and closes its sockets, so
    // its neighbour may see the connection close before it reads the header itself: TCP's
    // message is the mismatch on at least one rank, and wherever it is, the in-process one is the
    // same text
    int compared = 0;
    for (int r = 0; r < 2; r++) {
      Exception e = assertInstanceOf(CollectiveException.class, local.get(r).value());
      assertTrue(e.getMessage().contains("peers disagree"), e.getMessage());
      String overTcp = ((Exception) tcp.get(r).value()).getMessage();
      if (overTcp.contains("peers disagree")) {
        assertEquals(overTcp, e.getMessage(), "the in-process message must be TCP's");
        compared++;
      } else {
        assertTrue(overTcp.contains("closed the connection"), overTcp);
      }
    }
    assertTrue(compared >= 1, "neither rank saw the mismatch over TCP: " + tcp);
  }

  @Test
  void peersThatDisagreeOnTheShapeFailAsOverTcp() throws Exception {
    PeerWork work =
        ring -> {
          int n = ring.rank() == 0 ? N : N + TcpRing.BLOCK_VALUES;
          float[] v = values(ring.rank(), n);
          ring.allReduce(v, TcpRing.bounds(n, 2), 4);
          return v;
        };
    List<Outcome> local = ring(oneJvm(2), WireFormat.FP32, r -> SECRET, 5_000, work);
    for (int r = 0; r < 2; r++) {
      Exception e = assertInstanceOf(CollectiveException.class, local.get(r).value());
      assertTrue(e.getMessage().contains("peers disagree"), e.getMessage());
    }
  }

  /** A neighbour that closes its ring (a killed task) makes the other fail at once. */
  @Test
  void aClosedNeighbourFailsTheOtherPromptly() throws Exception {
    CountDownLatch connected = new CountDownLatch(2);
    long start = System.nanoTime();
    List<Outcome> out =
        ring(
            oneJvm(2),
            WireFormat.FP32,
            r -> SECRET,
            120_000,
            ring -> {
              connected.countDown();
              connected.await();
              if (ring.rank() == 1) {
                Thread.sleep(200);
                ring.close();
                return "closed";
              }
              float[] v = values(0, N);
              ring.allReduce(v, TcpRing.bounds(N, 2), 9);
              return v;
            });
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    Exception e = assertInstanceOf(CollectiveException.class, out.get(0).value());
    assertTrue(
        e.getMessage().contains("rank 1 closed the connection in reduce-scatter phase 0 of step 9"),
        e.getMessage());
    assertTrue(millis < 30_000, "failing took " + millis + " ms against a 120 s timeout");
  }

  /** KillWatch closes this peer's own ring while it waits for a silent neighbour. */
  @Test
  void closingTheRingWhileItWaitsFailsAtOnce() throws Exception {
    CountDownLatch connected = new CountDownLatch(2);
    CountDownLatch done = new CountDownLatch(1);
    long start = System.nanoTime();
    List<Outcome> out =
        ring(
            oneJvm(2),
            WireFormat.FP32,
            r -> SECRET,
            120_000,
            ring -> {
              connected.countDown();
              connected.await();
              if (ring.rank() == 1) {
                done.await(60, TimeUnit.SECONDS); // silent: never exchanges
                return "silent";
              }
              Thread killer =
                  new Thread(
                      () -> {
                        try {
                          Thread.sleep(200);
                        } catch (InterruptedException ignored) {
                          return;
                        }
                        ring.close();
                      });
              killer.start();
              try {
                float[] v = values(0, N);
                ring.allReduce(v, TcpRing.bounds(N, 2), 9);
                return v;
              } finally {
                done.countDown();
                killer.join();
              }
            });
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    Exception e = assertInstanceOf(CollectiveException.class, out.get(0).value());
    assertFalse(e.getMessage().contains("timed out"), e.getMessage());
    assertTrue(e.getMessage().contains("ring was closed"), e.getMessage());
    assertTrue(millis < 30_000, "failing took " + millis + " ms against a 120 s timeout");
  }

  @Test
  void aSilentNeighbourTimesOutWithTcpsMessage() throws Exception {
    CountDownLatch connected = new CountDownLatch(2);
    CountDownLatch done = new CountDownLatch(1);
    List<Outcome> out =
        ring(
            oneJvm(2),
            WireFormat.FP32,
            r -> SECRET,
            500,
            ring -> {
              connected.countDown();
              connected.await();
              if (ring.rank() == 1) {
                done.await(60, TimeUnit.SECONDS);
                return "silent";
              }
              try {
                float[] v = values(0, 10);
                ring.allReduce(v, TcpRing.bounds(10, 2), 2);
                return v;
              } finally {
                done.countDown();
              }
            });
    Exception e = assertInstanceOf(CollectiveException.class, out.get(0).value());
    assertEquals(
        "rank 0: timed out after 500 ms in reduce-scatter phase 0 of step 2 waiting for rank 1",
        e.getMessage());
  }

  @Test
  void closedRingsLeaveNoLinkBehind() throws Exception {
    int before = LocalLink.registered();
    ring(oneJvm(3), WireFormat.FP32, r -> SECRET, 20_000, r -> everyOperation(r, WireFormat.FP32));
    ring(
        oneJvm(2),
        WireFormat.FP32,
        r -> r == 1 ? OTHER_SECRET : SECRET,
        300,
        r -> everyOperation(r, WireFormat.FP32));
    assertEquals(before, LocalLink.registered(), "links left in the registry");
  }
}
