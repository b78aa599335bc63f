package io.spindle.deploy;

import io.spindle.config.WireFormat;
import io.spindle.worker.collective.TcpRing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One rank of the collective engine's ring ({@link TcpRing}, unchanged) timing all-reduces of given
 * sizes, for measuring what the ring achieves over the test bed without Spark or a model:
 *
 * <pre>
 *   RingProbe RANK SIZE ADDRESS DIR VALUES:REPEATS[,VALUES:REPEATS...]
 * </pre>
 *
 * Each rank listens on ADDRESS, publishes its endpoint as {@code DIR/rank-R} (written under a
 * temporary name, then renamed), waits for every other rank's file, connects the ring and runs, per
 * size, REPEATS / 5 (at least 3) unmeasured all-reduces and then REPEATS measured ones of a float
 * vector of VALUES values (fp32 on the wire). It checks every result (rank r contributes r + 1
 * everywhere, so each entry must be N (N + 1) / 2) and prints one line per size: {@code values=..
 * median_us=.. min_us=.. bytes_per_allreduce=..}.
 */
public final class RingProbe {
  private RingProbe() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 5) {
      System.err.println(
          "usage: RingProbe RANK SIZE ADDRESS DIR VALUES:REPEATS[,VALUES:REPEATS...], got "
              + Arrays.toString(args));
      System.exit(2);
    }
    int rank = Integer.parseInt(args[0]);
    int size = Integer.parseInt(args[1]);
    String address = args[2];
    Path dir = Path.of(args[3]);
    String[] runs = args[4].split(",");
    byte[] secret = "ring-probe-secret-of-the-bed".getBytes(StandardCharsets.UTF_8);
    try (TcpRing ring = TcpRing.bind(address, rank, size, WireFormat.FP32, 1L, 60_000)) {
      Path tmp = dir.resolve("rank-" + rank + ".tmp");
      Files.writeString(tmp, ring.endpoint());
      Files.move(tmp, dir.resolve("rank-" + rank), StandardCopyOption.ATOMIC_MOVE);
      List<String> endpoints = new ArrayList<>();
      long deadline = System.nanoTime() + 120_000_000_000L;
      for (int r = 0; r < size; r++) {
        Path f = dir.resolve("rank-" + r);
        while (!Files.exists(f)) {
          if (System.nanoTime() > deadline) {
            throw new IOException("rank " + r + " did not publish " + f + " within 120 s");
          }
          Thread.sleep(20);
        }
        endpoints.add(Files.readString(f).strip());
      }
      ring.connect(endpoints, secret, 1L);
      long step = 0;
      float expected = size * (size + 1) / 2f;
      for (String run : runs) {
        int n = Integer.parseInt(run.substring(0, run.indexOf(':')));
        int repeats = Integer.parseInt(run.substring(run.indexOf(':') + 1));
        int warmUp = Math.max(3, repeats / 5);
        float[] data = new float[n];
        int[] bounds = TcpRing.bounds(n, size);
        long[] nanos = new long[repeats];
        long bytesBefore = 0;
        for (int i = -warmUp; i < repeats; i++) {
          Arrays.fill(data, rank + 1f);
          if (i == 0) {
            bytesBefore = ring.bytesSent();
          }
          long t0 = System.nanoTime();
          ring.allReduce(data, bounds, step++);
          long t = System.nanoTime() - t0;
          for (int j = 0; j < n; j++) {
            if (data[j] != expected) {
              throw new IllegalStateException(
                  "rank " + rank + ": entry " + j + " is " + data[j] + ", expected " + expected);
            }
          }
          if (i >= 0) {
            nanos[i] = t;
          }
        }
        long bytes = (ring.bytesSent() - bytesBefore) / repeats;
        Arrays.sort(nanos);
        System.out.printf(
            Locale.ROOT,
            "values=%d median_us=%.1f min_us=%.1f bytes_per_allreduce=%d%n",
            n,
            nanos[repeats / 2] / 1e3,
            nanos[0] / 1e3,
            bytes);
        System.out.flush();
      }
    }
  }
}
