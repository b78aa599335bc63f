package io.spindle.worker.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.spindle.tensor.FlatVector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The executor-resident state's cache: content-addressed, tagged by round end, bounded by run. */
class StickyStateTest {
  @AfterEach
  void clear() {
    StickyState.clear();
  }

  @Test
  void aValueIsFoundOnlyByTheDigestOfItsExactBits() {
    float[] v = {1f, -0f, 3.5f, Float.NaN};
    FlatVector a = FlatVector.of(v.clone());
    float[] w = v.clone();
    w[1] = 0f; // -0 and +0 compare equal as floats, not as bits
    FlatVector b = FlatVector.of(w);
    assertNotEquals(StickyState.digest(a), StickyState.digest(b));
    assertEquals(StickyState.digest(a), StickyState.digest(FlatVector.of(v.clone())));
    assertNotEquals(
        StickyState.digest(a), StickyState.digest(FlatVector.of(new double[] {1, -0.0, 3.5, 0})));
    StickyState.keep("run", StickyState.Kind.PARAMS, StickyState.digest(a), a, 8, 16);
    assertSame(a, StickyState.lookup("run", StickyState.Kind.PARAMS, StickyState.digest(a)));
    assertNull(StickyState.lookup("run", StickyState.Kind.PARAMS, StickyState.digest(b)));
    assertNull(StickyState.lookup("run", StickyState.Kind.OPTIMIZER, StickyState.digest(a)));
    assertNull(StickyState.lookup("other", StickyState.Kind.PARAMS, StickyState.digest(a)));
    assertNotEquals(StickyState.digest(new byte[] {1, 2}), StickyState.digest(new byte[] {1, 3}));
  }

  @Test
  void theDigestIsTheSha256OfTheRawLittleEndianBitsWhateverTheLength() throws Exception {
    java.util.Random random = new java.util.Random(7);
    for (int n : new int[] {0, 1, 16383, 16384, 16385, 100_003}) {
      float[] v = new float[n];
      for (int i = 0; i < n; i++) {
        v[i] = (float) random.nextGaussian();
      }
      if (n > 2) {
        v[1] = Float.intBitsToFloat(0x7fc00123); // a NaN with a payload
        v[2] = Float.intBitsToFloat(0xffa00001); // a signalling NaN, negative
      }
      java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
      md.update((byte) org.nd4j.linalg.api.buffer.DataType.FLOAT.ordinal());
      for (float x : v) {
        int bits = Float.floatToRawIntBits(x);
        md.update(
            new byte[] {(byte) bits, (byte) (bits >> 8), (byte) (bits >> 16), (byte) (bits >> 24)});
      }
      assertEquals(
          java.util.HexFormat.of().formatHex(md.digest()),
          StickyState.digest(FlatVector.of(v)),
          "n=" + n);
    }
    float[] a = {1f, Float.intBitsToFloat(0x7fc00001)};
    float[] b = {1f, Float.intBitsToFloat(0x7fc00002)};
    assertNotEquals(StickyState.digest(FlatVector.of(a)), StickyState.digest(FlatVector.of(b)));
  }

  @Test
  void aRoundKeepsOnlyTheEntriesOfTheRoundItStartsFromAndTheLatestRuns() {
    StickyState.keep("r", StickyState.Kind.EXCHANGE, "a", new byte[4], 8, 4);
    StickyState.keep("r", StickyState.Kind.EXCHANGE, "b", new byte[4], 12, 4);
    StickyState.keep("s", StickyState.Kind.EXCHANGE, "a", new byte[4], 12, 4);
    assertEquals(12, StickyState.bytesKept());
    StickyState.retain("r", 8); // an attempt ending at 12 was not committed
    assertNull(StickyState.lookup("r", StickyState.Kind.EXCHANGE, "b"));
    assertEquals(4, ((byte[]) StickyState.lookup("r", StickyState.Kind.EXCHANGE, "a")).length);
    assertEquals(4, ((byte[]) StickyState.lookup("s", StickyState.Kind.EXCHANGE, "a")).length);
    // a third run pushes out the least recently used one ("s" was used last, then "t")
    StickyState.keep("t", StickyState.Kind.EXCHANGE, "a", new byte[4], 4, 4);
    assertNull(StickyState.lookup("r", StickyState.Kind.EXCHANGE, "a"));
    assertEquals(4, ((byte[]) StickyState.lookup("s", StickyState.Kind.EXCHANGE, "a")).length);
    assertEquals(8, StickyState.bytesKept());
  }
}
