package io.spindle.compress;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The state of a lossy gradient exchange over a whole ring: one {@link CompressionState} per
 * worker, in rank order (each worker's error-feedback residual differs; PowerSGD's warm-start
 * factors are the same on every worker). It is training state like the parameters and the optimiser
 * state: the driver commits it after every round, ships worker r's part to rank r at the next
 * round, and a checkpoint stores it ({@code compression.bin}). Immutable.
 *
 * <p>The residual is not sharded with ZeRO-1's optimiser state: it is one worker's unsent gradient
 * over the whole vector, not a parameter range's, and a shard's owner never sees the other workers'
 * residuals (PowerSGD's and top-k's reference implementations keep it per worker the same way).
 *
 * <p>Bytes ({@link #toBytes}, {@link #fromBytes}), little-endian:
 *
 * <pre>
 *   int magic "SPEX" | int version 1 | int n, n bytes scheme (UTF-8, e.g. "powersgd:2")
 *   | int workers N | N x (int length L, L bytes of {@link CompressionState#toBytes()})
 * </pre>
 *
 * @param scheme the exchange that wrote it, as {@code CompressionSpec.toString()} writes it
 * @param workers each rank's state, rank 0 first
 */
public record ExchangeState(String scheme, List<CompressionState> workers) {
  static final int MAGIC = 0x58455053; // "SPEX"
  static final int VERSION = 1;

  public ExchangeState {
    workers = List.copyOf(workers);
    if (workers.isEmpty()) {
      throw new IllegalArgumentException("an exchange state needs at least one worker's state");
    }
    CompressionState first = workers.get(0);
    for (int r = 1; r < workers.size(); r++) {
      CompressionState w = workers.get(r);
      if (!w.codec().equals(first.codec())
          || w.layoutFingerprint() != first.layoutFingerprint()
          || w.from() != first.from()
          || w.to() != first.to()) {
        throw new IllegalArgumentException(
            "worker " + r + "'s state " + w + " does not match worker 0's " + first);
      }
    }
  }

  /** Each worker's state as {@link CompressionState#toBytes()}, to ship to rank r. */
  public byte[][] perWorker() {
    byte[][] out = new byte[workers.size()][];
    for (int r = 0; r < out.length; r++) {
      out[r] = workers.get(r).toBytes();
    }
    return out;
  }

  /**
   * The state for a ring of {@code count} workers. The same count: this. Another (the elastic
   * engine re-formed the ring): error feedback needs only the sum of the residuals, so the new rank
   * 0 gets {@code sum_r E_r} (added in rank order) and the others zero; what is identical on every
   * worker (PowerSGD's warm start, the step count) is carried over from rank 0. The sum over
   * workers, the one thing error feedback's guarantee is about, stays the same up to float
   * rounding.
   */
  public ExchangeState forWorkers(int count) {
    if (count < 1) {
      throw new IllegalArgumentException("a ring needs at least one worker, got " + count);
    }
    if (count == workers.size()) {
      return this;
    }
    CompressionState first = workers.get(0);
    float[] sum = first.residual();
    for (int r = 1; r < workers.size(); r++) {
      float[] e = workers.get(r).residual();
      for (int i = 0; i < sum.length; i++) {
        sum[i] += e[i];
      }
    }
    List<CompressionState> out = new ArrayList<>();
    for (int r = 0; r < count; r++) {
      out.add(
          new CompressionState(
              first.codec(),
              first.layoutFingerprint(),
              first.from(),
              r == 0 ? sum : new float[sum.length],
              first.step(),
              first.factorOwners(),
              first.factorLengths(),
              first.factors()));
    }
    return new ExchangeState(scheme, out);
  }

  /** The byte layout in the class comment. */
  public byte[] toBytes() {
    byte[] name = scheme.getBytes(StandardCharsets.UTF_8);
    byte[][] parts = perWorker();
    long size = 4 + 4 + 4 + name.length + 4;
    for (byte[] p : parts) {
      size += 4 + p.length;
    }
    if (size > Integer.MAX_VALUE - 16) {
      throw new IllegalStateException(
          "exchange state of " + size + " bytes is too large for one array");
    }
    ByteBuffer b = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(MAGIC).putInt(VERSION).putInt(name.length).put(name).putInt(parts.length);
    for (byte[] p : parts) {
      b.putInt(p.length).put(p);
    }
    return b.array();
  }

  /**
   * Reads {@link #toBytes}'s layout; {@code source} (a file name) and the offset where it went
   * wrong go into the message of a malformed input.
   */
  public static ExchangeState fromBytes(byte[] bytes, String source) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    try {
      int magic = b.getInt();
      if (magic != MAGIC) {
        throw malformed(source, 0, "magic " + Integer.toHexString(magic) + ", expected 58455053");
      }
      int version = b.getInt();
      if (version != VERSION) {
        throw malformed(source, 4, "format version " + version + ", expected " + VERSION);
      }
      int nameLength = b.getInt();
      if (nameLength < 1 || nameLength > 64) {
        throw malformed(source, 8, "scheme name of " + nameLength + " bytes, expected 1 to 64");
      }
      byte[] name = new byte[nameLength];
      b.get(name);
      int count = b.getInt();
      if (count < 1) {
        throw malformed(source, b.position() - 4, count + " workers, expected at least 1");
      }
      List<CompressionState> workers = new ArrayList<>();
      for (int r = 0; r < count; r++) {
        int at = b.position();
        int length = b.getInt();
        if (length < 0 || length > b.remaining()) {
          throw malformed(
              source,
              at,
              "worker "
                  + r
                  + "'s state of "
                  + length
                  + " bytes, but "
                  + b.remaining()
                  + " bytes are left");
        }
        byte[] part = new byte[length];
        b.get(part);
        workers.add(
            CompressionState.fromBytes(part, source + " (worker " + r + " at offset " + at + ")"));
      }
      if (b.hasRemaining()) {
        throw malformed(
            source, b.position(), b.remaining() + " bytes after the last worker's state");
      }
      return new ExchangeState(new String(name, StandardCharsets.UTF_8), workers);
    } catch (BufferUnderflowException e) {
      throw malformed(source, b.position(), "truncated after " + bytes.length + " bytes");
    }
  }

  private static IllegalArgumentException malformed(String source, int offset, String what) {
    return new IllegalArgumentException(
        "exchange state " + source + ", offset " + offset + ": " + what);
  }

  @Override
  public String toString() {
    return "ExchangeState[" + scheme + ", " + workers.size() + " workers, " + workers.get(0) + "]";
  }
}
