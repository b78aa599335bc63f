package io.spindle.worker.collective;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mutual challenge-response between ring neighbours with HMAC-SHA256 over a per-job secret that the
 * driver hands to its tasks through Spark. The secret itself never crosses the socket.
 *
 * <p>Protocol (connector C is the sender of data, acceptor A the receiver):
 *
 * <ol>
 *   <li>C sends: magic, C's rank, the round id, nonce_c (16 bytes).
 *   <li>A sends: nonce_a, HMAC(secret, "A" | round | nonce_c | nonce_a).
 *   <li>C checks A's proof (else C refuses to send any data), then sends HMAC(secret, "C" | round |
 *       rank | nonce_c | nonce_a).
 *   <li>A checks C's proof and answers one status byte: 1 accepted, 0 refused. A refused peer gets
 *       no data and is told why in A's error.
 * </ol>
 */
final class PeerAuthenticator {
  static final int MAGIC = 0x5350444c; // "SPDL"
  private static final SecureRandom RANDOM = new SecureRandom();
  private final byte[] secret;
  private final long round;

  PeerAuthenticator(byte[] secret, long round) {
    this.secret = secret.clone();
    this.round = round;
  }

  /** Run by the side that opened the connection; returns normally only when both proved. */
  void asConnector(DataInputStream in, DataOutputStream out, int myRank, String peer) {
    try {
      connectorHandshake(in, out, myRank, peer);
    } catch (IOException e) {
      throw broken(peer, e);
    }
  }

  /** Run by the accepting side; returns the connector's rank once it proved the secret. */
  int asAcceptor(DataInputStream in, DataOutputStream out, int expectedRank, String peer) {
    try {
      return acceptorHandshake(in, out, expectedRank, peer);
    } catch (IOException e) {
      throw broken(peer, e);
    }
  }

  /**
   * A connection that breaks mid-handshake: typically the other side found the secrets differ and
   * closed it before this side read the verdict.
   */
  private static PeerAuthenticationException broken(String peer, IOException e) {
    return new PeerAuthenticationException(
        "peer "
            + peer
            + " broke the connection during authentication ("
            + e
            + "): it does not share this job's secret, or it failed; no data was sent",
        e);
  }

  private void connectorHandshake(DataInputStream in, DataOutputStream out, int myRank, String peer)
      throws IOException {
    byte[] nonceC = nonce();
    out.writeInt(MAGIC);
    out.writeInt(myRank);
    out.writeLong(round);
    out.write(nonceC);
    out.flush();
    byte[] nonceA = new byte[16];
    in.readFully(nonceA);
    byte[] proofA = new byte[32];
    in.readFully(proofA);
    if (!MessageDigest.isEqual(proofA, mac('A', myRank, nonceC, nonceA, false))) {
      throw new PeerAuthenticationException(
          "peer "
              + peer
              + " failed authentication: its proof does not match this job's secret (a process"
              + " that is not part of this Spindle job, or a stale task); no data was sent");
    }
    out.write(mac('C', myRank, nonceC, nonceA, true));
    out.flush();
    int status = in.read();
    if (status != 1) {
      throw new PeerAuthenticationException(
          "peer "
              + peer
              + " refused this task's authentication (status "
              + status
              + "): the secrets differ");
    }
  }

  private int acceptorHandshake(
      DataInputStream in, DataOutputStream out, int expectedRank, String peer) throws IOException {
    int magic = in.readInt();
    if (magic != MAGIC) {
      throw new PeerAuthenticationException(
          "connection from "
              + peer
              + " is not a Spindle peer: expected magic 0x"
              + Integer.toHexString(MAGIC)
              + ", found 0x"
              + Integer.toHexString(magic));
    }
    int rank = in.readInt();
    long theirRound = in.readLong();
    byte[] nonceC = new byte[16];
    in.readFully(nonceC);
    if (theirRound != round) {
      throw new PeerAuthenticationException(
          "peer " + peer + " is in round " + theirRound + ", expected round " + round);
    }
    if (rank != expectedRank) {
      throw new PeerAuthenticationException(
          "peer " + peer + " claims rank " + rank + ", expected rank " + expectedRank);
    }
    byte[] nonceA = nonce();
    out.write(nonceA);
    out.write(mac('A', rank, nonceC, nonceA, false));
    out.flush();
    byte[] proofC = new byte[32];
    in.readFully(proofC);
    if (!MessageDigest.isEqual(proofC, mac('C', rank, nonceC, nonceA, true))) {
      out.write(0);
      out.flush();
      throw new PeerAuthenticationException(
          "peer "
              + peer
              + " (claiming rank "
              + rank
              + ") failed authentication: its proof does not match this job's secret; it was"
              + " refused and sent no data");
    }
    out.write(1);
    out.flush();
    return rank;
  }

  private byte[] mac(char role, int rank, byte[] nonceC, byte[] nonceA, boolean withRank) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update((byte) role);
      mac.update(
          java.nio.ByteBuffer.allocate(12).putLong(round).putInt(withRank ? rank : -1).array());
      mac.update(nonceC);
      mac.update(nonceA);
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  private static byte[] nonce() {
    byte[] n = new byte[16];
    RANDOM.nextBytes(n);
    return n;
  }

  static byte[] newSecret() {
    byte[] s = new byte[32];
    RANDOM.nextBytes(s);
    return s;
  }
}
