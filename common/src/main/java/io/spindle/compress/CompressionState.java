package io.spindle.compress;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The state a lossy codec carries from step to step on one worker, everything needed to continue
 * bit for bit: the error-feedback residual over a range of the flat gradient, the number of steps
 * compressed, and (PowerSGD) the warm-start factors, one block per compressed matrix.
 *
 * <p>Immutable (arrays are copied in and out). It can be cut by parameter range ({@link #slice})
 * and put back together ({@link #concat}), for storing it with ZeRO-1 shards: the residual is cut
 * at the range bounds, and each factor block goes with the range that holds its matrix's first
 * value. It serialises to a self-describing little-endian byte array ({@link #toBytes}, {@link
 * #fromBytes}):
 *
 * <pre>
 *   int magic "SPCS" | int version 1 | int n, n bytes codec name (UTF-8) | long layout fingerprint
 *   | int from | int residual length | long step | int factor blocks B
 *   | B x int owner offset | B x int block length | residual floats | factor floats
 * </pre>
 *
 * @param codec {@code powersgd} or {@code topk}
 * @param layoutFingerprint {@link GradientLayout#fingerprint()} of the whole vector's layout
 * @param from the first flat index the residual covers
 * @param residual error feedback of indices {@code [from, from + residual.length)}
 * @param step steps compressed since the codec started
 * @param factorOwners for each factor block, the flat offset of the matrix it belongs to
 * @param factorLengths for each factor block, its number of values
 * @param factors the blocks, concatenated
 */
public record CompressionState(
    String codec,
    long layoutFingerprint,
    int from,
    float[] residual,
    long step,
    int[] factorOwners,
    int[] factorLengths,
    float[] factors) {
  static final int MAGIC = 0x53504353; // "SPCS"
  static final int VERSION = 1;

  public CompressionState {
    if (factorOwners.length != factorLengths.length) {
      throw new IllegalArgumentException(
          factorOwners.length + " factor owners but " + factorLengths.length + " lengths");
    }
    long total = 0;
    for (int l : factorLengths) {
      total += l;
    }
    if (total != factors.length) {
      throw new IllegalArgumentException(
          "factor blocks add up to " + total + " values, found " + factors.length);
    }
    residual = residual.clone();
    factorOwners = factorOwners.clone();
    factorLengths = factorLengths.clone();
    factors = factors.clone();
  }

  @Override
  public float[] residual() {
    return residual.clone();
  }

  @Override
  public int[] factorOwners() {
    return factorOwners.clone();
  }

  @Override
  public int[] factorLengths() {
    return factorLengths.clone();
  }

  @Override
  public float[] factors() {
    return factors.clone();
  }

  /** One past the last flat index the residual covers. */
  public int to() {
    return from + residual.length;
  }

  /** The state of parameters {@code [lo, hi)} (within this state's range). */
  public CompressionState slice(int lo, int hi) {
    if (lo < from || hi > to() || lo > hi) {
      throw new IllegalArgumentException(
          "slice ["
              + lo
              + ", "
              + hi
              + ") is not within the state's range ["
              + from
              + ", "
              + to()
              + ")");
    }
    List<Integer> owners = new ArrayList<>();
    List<Integer> lengths = new ArrayList<>();
    int kept = 0;
    for (int b = 0; b < factorOwners.length; b++) {
      if (factorOwners[b] >= lo && factorOwners[b] < hi) {
        kept += factorLengths[b];
      }
    }
    float[] f = new float[kept];
    int pos = 0;
    for (int b = 0, at = 0; b < factorOwners.length; at += factorLengths[b], b++) {
      if (factorOwners[b] >= lo && factorOwners[b] < hi) {
        owners.add(factorOwners[b]);
        lengths.add(factorLengths[b]);
        System.arraycopy(factors, at, f, pos, factorLengths[b]);
        pos += factorLengths[b];
      }
    }
    return new CompressionState(
        codec,
        layoutFingerprint,
        lo,
        Arrays.copyOfRange(residual, lo - from, hi - from),
        step,
        owners.stream().mapToInt(i -> i).toArray(),
        lengths.stream().mapToInt(i -> i).toArray(),
        f);
  }

  /**
   * The states of consecutive ranges, joined; they must be of the same codec, layout and step, and
   * each must start where the previous one ends.
   */
  public static CompressionState concat(List<CompressionState> parts) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("no states to join");
    }
    CompressionState first = parts.get(0);
    int residualLength = 0;
    int factorLength = 0;
    int blocks = 0;
    int next = first.from;
    for (int i = 0; i < parts.size(); i++) {
      CompressionState p = parts.get(i);
      if (!p.codec.equals(first.codec)
          || p.layoutFingerprint != first.layoutFingerprint
          || p.step != first.step) {
        throw new IllegalArgumentException(
            "part "
                + i
                + " is ("
                + p.codec
                + ", layout "
                + Long.toHexString(p.layoutFingerprint)
                + ", step "
                + p.step
                + "), expected ("
                + first.codec
                + ", layout "
                + Long.toHexString(first.layoutFingerprint)
                + ", step "
                + first.step
                + ") as part 0");
      }
      if (p.from != next) {
        throw new IllegalArgumentException(
            "part "
                + i
                + " starts at "
                + p.from
                + ", expected "
                + next
                + " (parts must be adjacent)");
      }
      next = p.to();
      residualLength += p.residual.length;
      factorLength += p.factors.length;
      blocks += p.factorOwners.length;
    }
    float[] residual = new float[residualLength];
    float[] factors = new float[factorLength];
    int[] owners = new int[blocks];
    int[] lengths = new int[blocks];
    int r = 0;
    int f = 0;
    int b = 0;
    for (CompressionState p : parts) {
      System.arraycopy(p.residual, 0, residual, r, p.residual.length);
      System.arraycopy(p.factors, 0, factors, f, p.factors.length);
      System.arraycopy(p.factorOwners, 0, owners, b, p.factorOwners.length);
      System.arraycopy(p.factorLengths, 0, lengths, b, p.factorLengths.length);
      r += p.residual.length;
      f += p.factors.length;
      b += p.factorOwners.length;
    }
    return new CompressionState(
        first.codec,
        first.layoutFingerprint,
        first.from,
        residual,
        first.step,
        owners,
        lengths,
        factors);
  }

  /** The byte layout in the class comment. */
  public byte[] toBytes() {
    byte[] name = codec.getBytes(StandardCharsets.UTF_8);
    int size =
        4
            + 4
            + 4
            + name.length
            + 8
            + 4
            + 4
            + 8
            + 4
            + 8 * factorOwners.length
            + 4 * residual.length
            + 4 * factors.length;
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(MAGIC).putInt(VERSION).putInt(name.length).put(name).putLong(layoutFingerprint);
    b.putInt(from).putInt(residual.length).putLong(step).putInt(factorOwners.length);
    for (int o : factorOwners) {
      b.putInt(o);
    }
    for (int l : factorLengths) {
      b.putInt(l);
    }
    b.asFloatBuffer().put(residual);
    b.position(b.position() + 4 * residual.length);
    b.asFloatBuffer().put(factors);
    return b.array();
  }

  /**
   * Reads {@link #toBytes}'s layout; {@code source} (a file name) goes into the message of a
   * malformed input, with the offset where it went wrong.
   */
  public static CompressionState fromBytes(byte[] bytes, String source) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    try {
      int magic = b.getInt();
      if (magic != MAGIC) {
        throw malformed(source, 0, "magic " + Integer.toHexString(magic) + ", expected 53504353");
      }
      int version = b.getInt();
      if (version != VERSION) {
        throw malformed(source, 4, "format version " + version + ", expected " + VERSION);
      }
      int nameLength = b.getInt();
      if (nameLength < 1 || nameLength > 64) {
        throw malformed(source, 8, "codec name of " + nameLength + " bytes, expected 1 to 64");
      }
      byte[] name = new byte[nameLength];
      b.get(name);
      long fingerprint = b.getLong();
      int from = b.getInt();
      int residualLength = b.getInt();
      long step = b.getLong();
      int blocks = b.getInt();
      int at = b.position();
      if (from < 0 || residualLength < 0 || blocks < 0 || step < 0) {
        throw malformed(
            source,
            at - 24,
            "from "
                + from
                + ", residual length "
                + residualLength
                + ", step "
                + step
                + ", factor blocks "
                + blocks
                + "; expected none negative");
      }
      int[] owners = new int[blocks];
      int[] lengths = new int[blocks];
      long factorLength = 0;
      for (int i = 0; i < blocks; i++) {
        owners[i] = b.getInt();
      }
      for (int i = 0; i < blocks; i++) {
        lengths[i] = b.getInt();
        if (lengths[i] < 0) {
          throw malformed(source, b.position() - 4, "factor block length " + lengths[i]);
        }
        factorLength += lengths[i];
      }
      long expected = b.position() + 4L * residualLength + 4L * factorLength;
      if (expected != bytes.length) {
        throw malformed(
            source,
            b.position(),
            bytes.length + " bytes in all, expected " + expected + " from the header");
      }
      float[] residual = new float[residualLength];
      b.asFloatBuffer().get(residual);
      b.position(b.position() + 4 * residualLength);
      float[] factors = new float[(int) factorLength];
      b.asFloatBuffer().get(factors);
      return new CompressionState(
          new String(name, StandardCharsets.UTF_8),
          fingerprint,
          from,
          residual,
          step,
          owners,
          lengths,
          factors);
    } catch (BufferUnderflowException e) {
      throw malformed(source, b.position(), "truncated after " + bytes.length + " bytes");
    }
  }

  private static IllegalArgumentException malformed(String source, int offset, String what) {
    return new IllegalArgumentException(
        "compression state " + source + ", offset " + offset + ": " + what);
  }

  /** Exact equality: every value bit for bit. */
  @Override
  public boolean equals(Object o) {
    return o instanceof CompressionState s
        && codec.equals(s.codec)
        && layoutFingerprint == s.layoutFingerprint
        && from == s.from
        && step == s.step
        && Arrays.equals(residual, s.residual)
        && Arrays.equals(factorOwners, s.factorOwners)
        && Arrays.equals(factorLengths, s.factorLengths)
        && Arrays.equals(factors, s.factors);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(residual) + Arrays.hashCode(factors) + Long.hashCode(step);
  }

  @Override
  public String toString() {
    return String.format(
        "CompressionState[%s, values %d..%d, step %d, %d factor blocks of %d values]",
        codec, from, to(), step, factorOwners.length, factors.length);
  }
}
