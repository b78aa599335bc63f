package io.spindle.worker.collective;

import io.spindle.tensor.FlatVector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;

/**
 * The collective engine's executor-resident state between rounds ("sticky state"): what a task held
 * at the end of a round attempt (its parameters, its optimiser state or shard, its exchange's
 * residuals and factors), kept in its executor's JVM so that the next round need not ship it again.
 *
 * <p>The cache is <b>content-addressed</b>: an entry's key is (run, kind, SHA-256 of its bits),
 * computed here when the entry is kept, and the driver asks for a value by the SHA-256 of the bits
 * it committed. So a hit is exactly the committed bits whatever happened in between (an uncommitted
 * attempt, a rank that moved to another executor, a rank whose replica differed from rank 0's):
 * anything else is a miss, and the task fetches the value from the driver (raw, by digest, from the
 * round's rendezvous server; without it, the round's broadcast). A kept value is never handed out
 * mutably (a {@link FlatVector} is not changed by its users, exchange bytes are only parsed).
 *
 * <p>Each entry is tagged with the global step its round ended at. A task of the round starting at
 * global step I needs only entries tagged I (the committed round's end), so it first drops the
 * run's entries with other tags (older rounds, abandoned attempts); only the entries of the {@value
 * #RUNS_KEPT} most recently used runs are kept (a run is one {@code CollectiveSync}).
 */
public final class StickyState {
  /** What an entry holds. */
  public enum Kind {
    PARAMS,
    OPTIMIZER,
    EXCHANGE
  }

  static final int RUNS_KEPT = 2;

  private record Key(String run, Kind kind, String digest) {}

  private record Entry(Object value, long tag, long bytes) {}

  private static final Map<Key, Entry> ENTRIES = new HashMap<>();
  private static final Map<String, Long> RUN_USED = new HashMap<>();
  private static long clock;

  private StickyState() {}

  /** The value kept under this key, or null. */
  public static synchronized Object lookup(String run, Kind kind, String digest) {
    Entry e = ENTRIES.get(new Key(run, kind, digest));
    if (e == null) {
      return null;
    }
    RUN_USED.put(run, ++clock);
    return e.value;
  }

  /** Keeps {@code value} (bits with SHA-256 {@code digest}, {@code bytes} long) at {@code tag}. */
  public static synchronized void keep(
      String run, Kind kind, String digest, Object value, long tag, long bytes) {
    ENTRIES.put(new Key(run, kind, digest), new Entry(value, tag, bytes));
    RUN_USED.put(run, ++clock);
    while (RUN_USED.size() > RUNS_KEPT) {
      String oldest = null;
      long at = Long.MAX_VALUE;
      for (Map.Entry<String, Long> r : RUN_USED.entrySet()) {
        if (r.getValue() < at) {
          at = r.getValue();
          oldest = r.getKey();
        }
      }
      drop(oldest, Long.MIN_VALUE, true);
    }
  }

  /** Drops {@code run}'s entries tagged other than {@code tag}. */
  public static synchronized void retain(String run, long tag) {
    drop(run, tag, false);
  }

  private static void drop(String run, long keepTag, boolean all) {
    for (Iterator<Map.Entry<Key, Entry>> it = ENTRIES.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Key, Entry> e = it.next();
      if (e.getKey().run.equals(run) && (all || e.getValue().tag != keepTag)) {
        it.remove();
      }
    }
    if (all) {
      RUN_USED.remove(run);
    }
  }

  /** Forgets everything this JVM keeps (tests: a cold executor). */
  public static synchronized void clear() {
    ENTRIES.clear();
    RUN_USED.clear();
  }

  /** Bytes this JVM keeps. */
  public static synchronized long bytesKept() {
    long sum = 0;
    for (Entry e : ENTRIES.values()) {
      sum += e.bytes;
    }
    return sum;
  }

  /**
   * SHA-256 of a vector's values (their raw IEEE bits, little-endian) and its type, in hex. The
   * values are converted to bytes in bulk, 64 KiB at a time, straight from the vector (a per-value
   * loop cost a round 10 ms per 5 MB vector, and far more before the JIT compiled it; a copy of the
   * whole vector first, 5 MB allocated and copied per digest).
   */
  public static String digest(FlatVector v) {
    MessageDigest md = sha256();
    md.update((byte) v.dataType().ordinal());
    int n = v.length();
    byte[] chunk = new byte[1 << 16];
    ByteBuffer buf = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
    if (v.dataType() == org.nd4j.linalg.api.buffer.DataType.FLOAT) {
      java.nio.FloatBuffer out = buf.asFloatBuffer();
      int per = chunk.length / Float.BYTES;
      for (int i = 0; i < n; i += per) {
        int len = Math.min(per, n - i);
        out.clear();
        v.putFloats(i, len, out); // a raw copy of the bits: NaN payloads survive
        md.update(chunk, 0, len * Float.BYTES);
      }
    } else {
      for (int i = 0; i < n; i++) {
        if (buf.remaining() < Long.BYTES) {
          md.update(chunk, 0, buf.position());
          buf.clear();
        }
        buf.putLong(Double.doubleToRawLongBits(v.get(i)));
      }
      md.update(chunk, 0, buf.position());
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** SHA-256 of the bytes, in hex. */
  public static String digest(byte[] bytes) {
    return HexFormat.of().formatHex(sha256().digest(bytes));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }
}
