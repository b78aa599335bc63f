package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.tensor.FlatVector;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The round's state through the driver's rendezvous server ({@link StateService}): raw bits both
 * ways, named by the same digests as {@link StickyState}, authenticated, and taken only from the
 * stage attempt (and with the digest) the Spark result names.
 */
class RoundStateServiceTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();
  private static final byte[] WRONG = "not-the-secret-not-the-secret-!!".getBytes();
  private static final long ROUND = 235;

  /**
   * Values with every kind of float bits: NaNs with payloads (quiet and signalling, both signs),
   * infinities, -0, subnormals, and random bits; over a chunk boundary of the wire (64 KiB).
   */
  static FlatVector awkward(int n, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = Float.intBitsToFloat(rng.nextInt());
    }
    int[] special = {
      0x7fc00001, 0xffbadbad, 0x7f800001, 0xff800123, 0x7f800000, 0xff800000, 0x80000000, 0x00000001
    };
    for (int i = 0; i < Math.min(n, special.length); i++) {
      f[i] = Float.intBitsToFloat(special[i]);
    }
    return FlatVector.of(f);
  }

  static void assertSameBits(FlatVector expected, FlatVector actual) {
    float[] e = expected.toFloatArray();
    float[] a = actual.toFloatArray();
    assertEquals(e.length, a.length);
    for (int i = 0; i < e.length; i++) {
      if (Float.floatToRawIntBits(e[i]) != Float.floatToRawIntBits(a[i])) {
        throw new AssertionError(
            "value "
                + i
                + ": bits "
                + Integer.toHexString(Float.floatToRawIntBits(a[i]))
                + ", expected "
                + Integer.toHexString(Float.floatToRawIntBits(e[i])));
      }
    }
  }

  private static String upload(
      Rendezvous r, int attempt, int rank, StickyState.Kind kind, Object value, byte[] secret) {
    String digest =
        value instanceof byte[] b ? StickyState.digest(b) : StickyState.digest((FlatVector) value);
    return StateService.upload(
        r.endpoint(), ROUND, attempt, rank, kind, value, digest, secret, 10_000);
  }

  @Test
  void uploadsAndFetchesKeepEveryBitAndItsDigest() {
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      r.open(ROUND, SECRET);
      FlatVector params = awkward(40_003, 1); // 160,012 bytes: three wire chunks
      FlatVector state = awkward(0, 2);
      byte[] exchange = new byte[70_001];
      new SplittableRandom(3).nextBytes(exchange);
      String pd = upload(r, 0, 0, StickyState.Kind.PARAMS, params, SECRET);
      String sd = upload(r, 0, 0, StickyState.Kind.OPTIMIZER, state, SECRET);
      String ed = upload(r, 0, 0, StickyState.Kind.EXCHANGE, exchange, SECRET);
      FlatVector p = (FlatVector) r.take(ROUND, 0, 0, StickyState.Kind.PARAMS, pd);
      assertSameBits(params, p);
      assertEquals(StickyState.digest(params), StickyState.digest(p));
      assertEquals(0, ((FlatVector) r.take(ROUND, 0, 0, StickyState.Kind.OPTIMIZER, sd)).length());
      assertArrayEquals(exchange, (byte[]) r.take(ROUND, 0, 0, StickyState.Kind.EXCHANGE, ed));

      // the other way: a start value offered by its digest, fetched raw, checked by the task
      r.offer(ROUND, StickyState.Kind.PARAMS, pd, params);
      r.offer(ROUND, StickyState.Kind.EXCHANGE, ed, exchange);
      FlatVector fetched =
          (FlatVector)
              StateService.fetch(
                  r.endpoint(), ROUND, 1, StickyState.Kind.PARAMS, pd, SECRET, 10_000);
      assertSameBits(params, fetched);
      assertEquals(pd, StickyState.digest(fetched));
      assertArrayEquals(
          exchange,
          (byte[])
              StateService.fetch(
                  r.endpoint(), ROUND, 1, StickyState.Kind.EXCHANGE, ed, SECRET, 10_000));
    }
  }

  @Test
  void aValueWhoseBytesDoNotMatchItsDigestIsRefusedEitherWay() {
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      r.open(ROUND, SECRET);
      FlatVector v = awkward(1000, 4);
      String other = StickyState.digest(awkward(1000, 5));
      CollectiveException announced =
          assertThrows(
              CollectiveException.class,
              () ->
                  StateService.upload(
                      r.endpoint(),
                      ROUND,
                      0,
                      0,
                      StickyState.Kind.PARAMS,
                      v,
                      other,
                      SECRET,
                      10_000));
      assertTrue(announced.getMessage().contains("not the announced"), announced.getMessage());
      // nothing was filed for that rank: the driver cannot take it under any digest
      assertThrows(
          CollectiveException.class,
          () -> r.take(ROUND, 0, 0, StickyState.Kind.PARAMS, StickyState.digest(v)));
      String good = upload(r, 0, 0, StickyState.Kind.PARAMS, v, SECRET);
      CollectiveException named =
          assertThrows(
              CollectiveException.class, () -> r.take(ROUND, 0, 0, StickyState.Kind.PARAMS, other));
      assertTrue(named.getMessage().contains("but its result names " + other), named.getMessage());
      assertEquals(
          good,
          StickyState.digest((FlatVector) r.take(ROUND, 0, 0, StickyState.Kind.PARAMS, good)));
      // a fetch of bits not offered is refused
      CollectiveException missing =
          assertThrows(
              CollectiveException.class,
              () ->
                  StateService.fetch(
                      r.endpoint(), ROUND, 0, StickyState.Kind.PARAMS, other, SECRET, 10_000));
      assertTrue(missing.getMessage().contains("is offered"), missing.getMessage());
    }
  }

  /** A server that serves other bits than asked for is not believed by the task. */
  @Test
  void aFetchedValueIsCheckedAgainstItsDigest() {
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      r.open(ROUND, SECRET);
      FlatVector v = awkward(100, 6);
      String claimed = StickyState.digest(awkward(100, 7));
      r.offer(ROUND, StickyState.Kind.OPTIMIZER, claimed, v); // a wrong offer (a driver bug)
      PeerAuthenticationException e =
          assertThrows(
              PeerAuthenticationException.class,
              () ->
                  StateService.fetch(
                      r.endpoint(), ROUND, 0, StickyState.Kind.OPTIMIZER, claimed, SECRET, 10_000));
      assertTrue(e.getMessage().contains("not the committed"), e.getMessage());
    }
  }

  @Test
  void aPeerWithoutTheRoundsSecretCanNeitherUploadNorFetch() throws Exception {
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      r.open(ROUND, SECRET);
      FlatVector v = awkward(100, 8);
      String d = StickyState.digest(v);
      r.offer(ROUND, StickyState.Kind.PARAMS, d, v);
      CollectiveException put =
          assertThrows(
              CollectiveException.class, () -> upload(r, 0, 0, StickyState.Kind.PARAMS, v, WRONG));
      assertTrue(put.getMessage().contains("authentication failed"), put.getMessage());
      assertThrows(
          CollectiveException.class, () -> r.take(ROUND, 0, 0, StickyState.Kind.PARAMS, d));
      CollectiveException get =
          assertThrows(
              CollectiveException.class,
              () ->
                  StateService.fetch(
                      r.endpoint(), ROUND, 0, StickyState.Kind.PARAMS, d, WRONG, 10_000));
      assertTrue(get.getMessage().contains("authentication failed"), get.getMessage());
      // a request for a round that is not open, and garbage after the state magic
      CollectiveException closed =
          assertThrows(
              CollectiveException.class,
              () ->
                  StateService.fetch(
                      r.endpoint(), ROUND + 1, 0, StickyState.Kind.PARAMS, d, SECRET, 10_000));
      assertTrue(closed.getMessage().contains("is not open"), closed.getMessage());
      String[] hostPort = r.endpoint().split(":");
      try (Socket s = new Socket(hostPort[0], Integer.parseInt(hostPort[1]))) {
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeInt(StateService.MAGIC);
        out.writeByte(9);
        out.flush();
        DataInputStream in = new DataInputStream(s.getInputStream());
        assertEquals(1, in.readByte());
        assertTrue(in.readUTF().contains("unknown state operation"));
      }
      // the round closed: its offers are gone
      r.close(ROUND);
      assertThrows(
          CollectiveException.class,
          () ->
              StateService.fetch(
                  r.endpoint(), ROUND, 0, StickyState.Kind.PARAMS, d, SECRET, 10_000));
    }
  }

  /**
   * A relaunched stage's tasks upload as attempt 1; what a task of the abandoned attempt 0 uploaded
   * (before or after them) is never taken: the driver takes, per result, the upload of that
   * result's attempt with the digest it names.
   */
  @Test
  void anAbandonedAttemptsUploadIsNeverCommitted() {
    try (Rendezvous r = Rendezvous.start("127.0.0.1")) {
      r.open(ROUND, SECRET);
      FlatVector stale = awkward(500, 10);
      FlatVector good = awkward(500, 11);
      FlatVector late = awkward(500, 12);
      upload(r, 0, 0, StickyState.Kind.PARAMS, stale, SECRET); // attempt 0, then abandoned
      String gd = upload(r, 1, 0, StickyState.Kind.PARAMS, good, SECRET);
      CollectiveException twice =
          assertThrows(
              CollectiveException.class,
              () -> upload(r, 1, 0, StickyState.Kind.PARAMS, late, SECRET));
      assertTrue(twice.getMessage().contains("already uploaded"), twice.getMessage());
      upload(r, 2, 0, StickyState.Kind.PARAMS, late, SECRET); // a later attempt's straggler

      CollectiveResult named = result(0, 1, gd, null, null);
      List<CollectiveResult> taken = r.withUploads(List.of(named), ROUND);
      assertSameBits(good, taken.get(0).params());
      assertNull(taken.get(0).state());
      assertEquals(4L * 500, taken.get(0).stateBytes());
      // a result of attempt 1 that named the stale bits would not find them under its attempt
      CollectiveResult wrong = result(0, 1, StickyState.digest(stale), null, null);
      assertThrows(CollectiveException.class, () -> r.withUploads(List.of(wrong), ROUND));
      // nor would a result of an attempt that uploaded nothing
      CollectiveResult none = result(0, 3, gd, null, null);
      CollectiveException nothing =
          assertThrows(CollectiveException.class, () -> r.withUploads(List.of(none), ROUND));
      assertTrue(nothing.getMessage().contains("uploaded no PARAMS"), nothing.getMessage());
      // a result that carries its state (the Spark path) is left as it is
      CollectiveResult spark = spark(1, good);
      assertSame(spark, r.withUploads(List.of(spark), ROUND).get(0));
    }
  }

  private static CollectiveResult result(
      int rank, int attempt, String params, String state, String exchange) {
    return new CollectiveResult(
        rank, null, null, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, null, 0, 0, 0, 0, "float32", null,
        attempt, params, state, exchange, true, 4L * 500);
  }

  private static CollectiveResult spark(int rank, FlatVector state) {
    return new CollectiveResult(
        rank, null, state, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, null, 0, 0, 0, 0, "float32", null, 0,
        null, null, null, false, 0);
  }
}
