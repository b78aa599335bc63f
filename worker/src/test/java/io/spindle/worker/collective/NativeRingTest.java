package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.spindle.config.WireFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The ring operations on values in native memory ({@link TcpRing#reduceScatter(float[],
 * FloatBuffer, int[], long)}, {@code allReduce} and {@link TcpRing#allGather(float[], FloatBuffer,
 * int[], long, int, WireFormat)}) against the same operations on heap copies: the same bits, and
 * the same bytes sent, over TCP, in process and in mixed rings, in every wire format.
 */
class NativeRingTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();
  // several blocks, uneven chunks
  private static final int N = 2 * TcpRing.BLOCK_VALUES + 1001;
  // the native vectors start inside their buffer, as a view into a larger array does
  private static final int AT = 37;
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws Exception {
    pool.shutdownNow();
    pool.awaitTermination(10, TimeUnit.SECONDS);
  }

  /** A native vector holding {@code values}, index 0 at element {@link #AT} of its buffer. */
  static FloatBuffer nativeCopy(float[] values) {
    FloatBuffer whole =
        ByteBuffer.allocateDirect((AT + values.length + 11) * 4)
            .order(ByteOrder.nativeOrder())
            .asFloatBuffer();
    for (int i = 0; i < whole.capacity(); i++) {
      whole.put(i, Float.NaN);
    }
    whole.position(AT);
    FloatBuffer v = whole.slice();
    v.put(0, values, 0, values.length);
    return v;
  }

  static float[] garbage(int n) {
    float[] g = new float[n];
    Arrays.fill(g, -7.25e30f);
    return g;
  }

  static float[] read(FloatBuffer b, int n) {
    float[] out = new float[n];
    b.get(0, out, 0, n);
    return out;
  }

  /** Each peer's results of the heap and the native forms, and its bytes sent by each. */
  record Results(float[][] heap, float[][] nat, long heapBytes, long natBytes) {}

  static Results work(TcpRing ring, WireFormat wire) {
    int r = ring.rank();
    int[] bounds = TcpRing.bounds(N, ring.size());
    int from = bounds[r];
    int to = bounds[r + 1];
    float[][] heap = new float[3][];
    float[][] nat = new float[4][];
    long before = ring.bytesSent();
    float[] rs = InProcessRingTest.values(r, N);
    ring.reduceScatter(rs, bounds, 11, 0, wire, null);
    heap[0] = Arrays.copyOfRange(rs, from, to);
    float[] ar = InProcessRingTest.values(r + 10, N);
    ring.allReduce(ar, bounds, 12, 0, wire, null);
    heap[1] = ar;
    float[] ag = garbage(N);
    float[] own = InProcessRingTest.values(r + 20, N);
    System.arraycopy(own, from, ag, from, to - from);
    ring.allGather(ag, bounds, 13, GradientExchange.PARAMETERS_TAG, wire, null);
    heap[2] = ag;
    long middle = ring.bytesSent();

    float[] data = garbage(N);
    ring.reduceScatter(data, nativeCopy(InProcessRingTest.values(r, N)), bounds, 11);
    nat[0] = Arrays.copyOfRange(data, from, to);
    data = garbage(N);
    ring.allReduce(data, nativeCopy(InProcessRingTest.values(r + 10, N)), bounds, 12);
    nat[1] = data;
    data = garbage(N);
    System.arraycopy(own, from, data, from, to - from);
    FloatBuffer into = nativeCopy(garbage(N));
    ring.allGather(data, into, bounds, 13, GradientExchange.PARAMETERS_TAG, wire);
    nat[2] = read(into, N);
    // the heap vector keeps its own chunk, and its other chunks are left as they were
    float[] expectedData = garbage(N);
    System.arraycopy(own, from, expectedData, from, to - from);
    nat[3] = data;
    heap = Arrays.copyOf(heap, 4);
    heap[3] = expectedData;
    return new Results(heap, nat, middle - before, ring.bytesSent() - middle);
  }

  List<Results> run(String[] tokens, WireFormat wire) throws Exception {
    int size = tokens.length;
    List<TcpRing> rings = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      rings.add(TcpRing.bind("127.0.0.1", r, size, wire, 1L, 20_000, tokens[r]));
    }
    List<String> endpoints = rings.stream().map(TcpRing::endpoint).toList();
    List<Future<Results>> futures = new ArrayList<>();
    for (TcpRing ring : rings) {
      futures.add(
          pool.submit(
              () -> {
                try (ring) {
                  ring.connect(endpoints, SECRET, 3);
                  return work(ring, wire);
                }
              }));
    }
    List<Results> out = new ArrayList<>();
    for (Future<Results> f : futures) {
      out.add(f.get(60, TimeUnit.SECONDS));
    }
    return out;
  }

  static String[] tokens(String kind, int size) {
    String[] t = new String[size];
    switch (kind) {
      case "tcp" -> {}
      case "local" -> Arrays.fill(t, LocalLink.JVM_TOKEN);
      default -> {
        // every other peer in this JVM: some links of each kind
        for (int r = 0; r < size; r++) {
          t[r] = r % 3 == 2 ? null : LocalLink.JVM_TOKEN;
        }
      }
    }
    return t;
  }

  @ParameterizedTest(name = "{0} peers, {1}, {2}")
  @CsvSource({
    "1, tcp, FP32",
    "2, tcp, FP32",
    "3, tcp, FP32",
    "2, local, FP32",
    "3, local, FP32",
    "4, local, FP32",
    "5, mixed, FP32",
    "2, tcp, BF16",
    "3, local, BF16",
    "5, mixed, BF16"
  })
  void nativeFormsEqualTheHeapFormsBitForBit(int size, String kind, WireFormat wire)
      throws Exception {
    List<Results> results = run(tokens(kind, size), wire);
    String[] what = {"reduce-scatter", "all-reduce", "all-gather", "all-gather's heap vector"};
    for (int r = 0; r < size; r++) {
      Results x = results.get(r);
      for (int k = 0; k < what.length; k++) {
        float[] expected = x.heap()[k];
        float[] actual = x.nat()[k];
        assertEquals(expected.length, actual.length, what[k]);
        for (int i = 0; i < expected.length; i++) {
          if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
            throw new AssertionError(
                "rank "
                    + r
                    + ", "
                    + what[k]
                    + ", value "
                    + i
                    + ": expected "
                    + expected[i]
                    + ", got "
                    + actual[i]);
          }
        }
      }
      assertEquals(x.heapBytes(), x.natBytes(), "rank " + r + " must send the same bytes");
    }
  }
}
