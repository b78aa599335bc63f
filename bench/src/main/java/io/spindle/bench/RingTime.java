package io.spindle.bench;

import io.spindle.config.WireFormat;
import io.spindle.worker.collective.TcpRing;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The ring's own cost per step with nothing else running: {@code workers} peers in this JVM on
 * 127.0.0.1, each doing the collective step's reduce-scatter and all-gather of an {@code n}-value
 * float vector, {@code steps} times after a warm-up. In a real step the ring also waits for the
 * slowest peer's compute; the bench's {@code collective_seconds_per_step} holds that figure.
 */
public final class RingTime {
  private RingTime() {}

  /** Mean wall milliseconds of one reduce-scatter + all-gather. */
  public static double millisPerStep(int n, int workers, int warmup, int steps) {
    if (workers < 2) {
      return 0;
    }
    byte[] secret = "spindle-profile-ring".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    List<TcpRing> rings = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(workers);
    try {
      List<String> endpoints = new ArrayList<>();
      for (int r = 0; r < workers; r++) {
        TcpRing ring = TcpRing.bind("127.0.0.1", r, workers, WireFormat.FP32, 1L, 30_000);
        rings.add(ring);
        endpoints.add(ring.endpoint());
      }
      List<Future<Long>> done = new ArrayList<>();
      for (TcpRing ring : rings) {
        done.add(
            pool.submit(
                () -> {
                  ring.connect(endpoints, secret, 1L);
                  int[] bounds = TcpRing.bounds(n, workers);
                  float[] data = new float[n];
                  long t0 = 0;
                  for (int s = 0; s < warmup + steps; s++) {
                    if (s == warmup) {
                      t0 = System.nanoTime();
                    }
                    ring.reduceScatter(data, bounds, s);
                    ring.allGather(data, bounds, s);
                  }
                  return System.nanoTime() - t0;
                }));
      }
      long worst = 0;
      for (Future<Long> f : done) {
        worst = Math.max(worst, f.get());
      }
      return worst / 1e6 / steps;
    } catch (Exception e) {
      throw new IllegalStateException("profile: the loopback ring failed: " + e, e);
    } finally {
      for (TcpRing ring : rings) {
        ring.close();
      }
      pool.shutdownNow();
    }
  }
}
