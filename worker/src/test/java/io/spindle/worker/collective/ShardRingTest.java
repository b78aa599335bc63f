package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.WireFormat;
import io.spindle.data.ShardAssignment;
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
import org.junit.jupiter.params.provider.CsvSource;

/**
 * M workers playing a ring of L shards add the shards' vectors in exactly the order a ring of L
 * workers does: the chunks they own come out bit for bit equal, for any M, in fp32 and bf16.
 */
class ShardRingTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws Exception {
    pool.shutdownNow();
    assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS), "peer threads must stop");
  }

  /** Shard {@code s}'s vector: values of many magnitudes and signs, so the order of sums shows. */
  static float[] shard(int s, int n) {
    SplittableRandom r = new SplittableRandom(1000 + s);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) ((r.nextDouble() - 0.5) * Math.pow(10, r.nextInt(-6, 3)));
    }
    return v;
  }

  interface Work {
    float[] run(TcpRing ring) throws Exception;
  }

  /** Runs {@code size} peers; returns each peer's vector. */
  List<float[]> peers(int size, WireFormat wire, Work work) throws Exception {
    List<TcpRing> rings = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      rings.add(TcpRing.bind("127.0.0.1", r, size, wire, 1L, 20_000));
    }
    List<String> endpoints = rings.stream().map(TcpRing::endpoint).toList();
    List<Future<float[]>> futures = new ArrayList<>();
    for (TcpRing ring : rings) {
      futures.add(
          pool.submit(
              () -> {
                try (ring) {
                  ring.connect(endpoints, SECRET, 7);
                  return work.run(ring);
                }
              }));
    }
    List<float[]> out = new ArrayList<>();
    for (Future<float[]> f : futures) {
      out.add(f.get(60, TimeUnit.SECONDS));
    }
    return out;
  }

  /** The sum a ring of {@code l} workers leaves, chunk c from rank c. */
  float[] ringOfShards(int l, int n, WireFormat wire) throws Exception {
    int[] bounds = TcpRing.bounds(n, l);
    List<float[]> results =
        peers(
            l,
            wire,
            ring -> {
              float[] v = shard(ring.rank(), n);
              ring.reduceScatter(v, bounds, 5);
              return v;
            });
    float[] sum = new float[n];
    for (int c = 0; c < l; c++) {
      System.arraycopy(results.get(c), bounds[c], sum, bounds[c], bounds[c + 1] - bounds[c]);
    }
    return sum;
  }

  /** The same played by {@code m} workers, each owning its shards' chunks. */
  float[] shardsOnWorkers(int l, int m, int n, WireFormat wire) throws Exception {
    ShardAssignment a = new ShardAssignment(l, m);
    List<float[]> results =
        peers(
            m,
            wire,
            ring -> {
              ShardRing shards = new ShardRing(ring, a, wire);
              int first = a.first(ring.rank());
              float[][] mine = new float[a.count(ring.rank())][];
              for (int i = 0; i < mine.length; i++) {
                mine[i] = shard(first + i, n);
              }
              shards.reduceScatter(mine, 5);
              float[] out = new float[n];
              shards.gather(mine, out);
              return out;
            });
    int[] owned = ShardRing.workerBounds(a, n);
    float[] sum = new float[n];
    for (int w = 0; w < m; w++) {
      System.arraycopy(results.get(w), owned[w], sum, owned[w], owned[w + 1] - owned[w]);
    }
    return sum;
  }

  @ParameterizedTest(name = "{0} shards on {1} workers, {2}")
  @CsvSource({
    "3, 2, FP32",
    "3, 1, FP32",
    "4, 2, FP32",
    "4, 3, FP32",
    "5, 2, FP32",
    "7, 3, FP32",
    "4, 2, BF16"
  })
  void fewerWorkersAddTheShardsInTheRingOfShardsOrder(int l, int m, WireFormat wire)
      throws Exception {
    int n = 2 * TcpRing.BLOCK_VALUES + 1001; // several blocks, uneven chunks
    float[] expected = ringOfShards(l, n, wire);
    float[] actual = shardsOnWorkers(l, m, n, wire);
    assertArrayEquals(expected, actual, "the sums differ in some bit");
  }

  /** What the ring of shards avoids: each worker summing its shards first, then a ring of M. */
  @Test
  void summingShardsLocallyFirstGivesOtherBits() throws Exception {
    int l = 4;
    int m = 2;
    int n = 50_000;
    float[] expected = ringOfShards(l, n, WireFormat.FP32);
    ShardAssignment a = new ShardAssignment(l, m);
    int[] bounds = TcpRing.bounds(n, m);
    List<float[]> results =
        peers(
            m,
            WireFormat.FP32,
            ring -> {
              float[] local = new float[n];
              for (int s = a.first(ring.rank()); s < a.end(ring.rank()); s++) {
                float[] v = shard(s, n);
                for (int i = 0; i < n; i++) {
                  local[i] += v[i];
                }
              }
              ring.allReduce(local, bounds, 5);
              return local;
            });
    assertFalse(
        Arrays.equals(expected, results.get(0)),
        "the test's vectors must be sensitive to the order of the sums");
  }
}
