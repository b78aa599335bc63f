package io.spindle.worker.collective;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * One rank's progress in a collective round, sent to the driver's {@link ProgressService} every
 * {@code logEvery} steps. The counters are cumulative since the rank started the round's first
 * step, so a lost frame loses no examples: the next one covers them.
 *
 * <pre>
 * magic "SPRG" | round | attempt | rank | size | iteration | stepInEpoch | examples | correct
 *   | lossSum (double) | wallNanos | HMAC-SHA256(round secret, "progress" | all the fields)
 * </pre>
 *
 * @param iteration the global iteration (0-based) of the last step covered
 * @param stepInEpoch steps of the epoch done after it
 * @param wallNanos nanoseconds since the rank started the round's first step
 */
public record ProgressFrame(
    long round,
    int attempt,
    int rank,
    int size,
    long iteration,
    int stepInEpoch,
    long examples,
    long correct,
    double lossSum,
    long wallNanos) {
  static final int MAGIC = 0x53505247; // "SPRG"
  private static final byte[] PURPOSE = "progress|".getBytes(StandardCharsets.US_ASCII);
  private static final int BODY = 4 + 8 + 4 + 4 + 4 + 8 + 4 + 8 + 8 + 8 + 8;

  void write(DataOutputStream out, Mac mac) throws IOException {
    byte[] body = body();
    out.write(body);
    out.write(sign(mac, body));
    out.flush();
  }

  /** Reads one frame; null at a clean end of stream; throws on a bad magic or proof. */
  static ProgressFrame read(DataInputStream in, Mac mac) throws IOException {
    byte[] body = new byte[BODY];
    int first = in.read();
    if (first < 0) {
      return null;
    }
    body[0] = (byte) first;
    in.readFully(body, 1, BODY - 1);
    byte[] proof = new byte[32];
    in.readFully(proof);
    ByteBuffer b = ByteBuffer.wrap(body);
    int magic = b.getInt();
    if (magic != MAGIC) {
      throw new IOException(
          "not a Spindle progress frame (magic " + Integer.toHexString(magic) + ")");
    }
    if (!MessageDigest.isEqual(proof, sign(mac, body))) {
      throw new PeerAuthenticationException(
          "a progress frame failed authentication: it is not signed with the round's secret");
    }
    return new ProgressFrame(
        b.getLong(),
        b.getInt(),
        b.getInt(),
        b.getInt(),
        b.getLong(),
        b.getInt(),
        b.getLong(),
        b.getLong(),
        b.getDouble(),
        b.getLong());
  }

  private byte[] body() {
    return ByteBuffer.allocate(BODY)
        .putInt(MAGIC)
        .putLong(round)
        .putInt(attempt)
        .putInt(rank)
        .putInt(size)
        .putLong(iteration)
        .putInt(stepInEpoch)
        .putLong(examples)
        .putLong(correct)
        .putDouble(lossSum)
        .putLong(wallNanos)
        .array();
  }

  private static byte[] sign(Mac mac, byte[] body) {
    mac.update(PURPOSE);
    return mac.doFinal(body);
  }

  /** An HMAC-SHA256 keyed by the round's secret (one per thread: a Mac is not thread-safe). */
  static Mac mac(byte[] secret) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(secret, "HmacSHA256"));
      return m;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }
}
