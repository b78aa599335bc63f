package io.spindle.worker.collective;

import io.spindle.tensor.FlatVector;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * A round's state values as raw bytes on a socket, outside Spark's serialiser: a float32 vector
 * ({@link StickyState.Kind#PARAMS}, {@link StickyState.Kind#OPTIMIZER}) as its IEEE bits,
 * little-endian, a raw copy (NaN payloads included; Spark's Kryo path keeps them too, see the
 * driver's {@code NanPayloadTest}); an exchange state ({@link StickyState.Kind#EXCHANGE}) as its
 * bytes. Each value is digested while it is read (the writer named it by its digest already), with
 * the same SHA-256 as {@link StickyState#digest(FlatVector)} and {@link StickyState#digest(byte[])}
 * (a float vector's digest starts with its type's byte), so a value is named by the same digest on
 * every side and whichever way it travelled.
 */
final class StateWire {
  private static final int CHUNK = 1 << 16;

  private StateWire() {}

  /** Bytes of {@code value} (a float32 {@link FlatVector} or a {@code byte[]}) on the wire. */
  static long length(Object value) {
    if (value instanceof byte[] b) {
      return b.length;
    }
    return 4L * floats(value).length();
  }

  /**
   * Writes {@code value}'s bytes (no header). Not digested here: the reading side digests what
   * arrives, and the writer knows its value's digest already (it named the value by it).
   */
  static void write(Object value, DataOutputStream out) throws IOException {
    if (value instanceof byte[] b) {
      out.write(b);
      return;
    }
    FlatVector v = floats(value);
    int n = v.length();
    byte[] chunk = new byte[CHUNK];
    FloatBuffer fb = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    int per = CHUNK / Float.BYTES;
    for (int i = 0; i < n; i += per) {
      int len = Math.min(per, n - i);
      fb.clear();
      v.putFloats(i, len, fb); // the raw bits, straight from the vector (no copy of it first)
      out.write(chunk, 0, len * Float.BYTES);
    }
  }

  /** A value as it was read: its bytes and their digest. */
  record Read(byte[] bytes, String digest) {}

  /** Reads {@code length} bytes of a value of {@code kind}, digesting them as they arrive. */
  static Read read(StickyState.Kind kind, long length, DataInputStream in) throws IOException {
    if (length < 0 || length > Integer.MAX_VALUE - 16) {
      throw new IOException("a state value of " + length + " bytes cannot be held in one array");
    }
    if (kind != StickyState.Kind.EXCHANGE && length % Float.BYTES != 0) {
      throw new IOException("a float32 vector of " + length + " bytes (not a multiple of 4)");
    }
    MessageDigest md = sha256();
    if (kind != StickyState.Kind.EXCHANGE) {
      md.update((byte) DataType.FLOAT.ordinal());
    }
    byte[] out = new byte[(int) length];
    for (int i = 0; i < out.length; i += CHUNK) {
      int len = Math.min(CHUNK, out.length - i);
      in.readFully(out, i, len);
      md.update(out, i, len);
    }
    return new Read(out, HexFormat.of().formatHex(md.digest()));
  }

  /** The value of {@code kind} the bytes hold: a float32 {@link FlatVector} or the bytes. */
  static Object value(StickyState.Kind kind, byte[] bytes) {
    if (kind == StickyState.Kind.EXCHANGE) {
      return bytes;
    }
    float[] f = new float[bytes.length / Float.BYTES];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f); // raw bits
    return FlatVector.of(f);
  }

  private static FlatVector floats(Object value) {
    if (value instanceof FlatVector v && v.dataType() == DataType.FLOAT) {
      return v;
    }
    throw new IllegalArgumentException(
        "a round's state travels as float32 vectors or bytes, got "
            + (value instanceof FlatVector v ? "a " + v.dataType() + " vector" : value));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }
}
