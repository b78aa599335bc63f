package io.spindle.driver.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.spindle.tensor.FlatVector;
import io.spindle.worker.collective.CollectiveResult;
import io.spindle.worker.collective.StickyState;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The next round's start reuses a committed value's checked digest only for exactly its bits, and
 * only for values that came through the round's server.
 */
class CommittedDigestsTest {
  // digests that are not the values' SHA-256: a returned one was reused, not computed
  private static final String PARAMS = "params-digest-the-server-checked";
  private static final String STATE = "state-digest-the-server-checked";
  private static final String EXCHANGE = "exchange-digest-the-server-checked";

  @Test
  void aValueWithTheCommittedBitsReusesItsDigestAnyOtherIsDigested() {
    float[] p = values(10_007, 1);
    float[] s = values(4_001, 2);
    byte[] x = {1, 2, 3, 4, 5};
    CommittedDigests known =
        CommittedDigests.of(List.of(raw(0, FlatVector.of(p.clone()), s.clone(), x.clone())));
    assertEquals(3, known.size());

    // a copy of the same bits (as the next round's start copies them from the model)
    assertEquals(PARAMS, known.digest(StickyState.Kind.PARAMS, FlatVector.of(p.clone())));
    assertEquals(STATE, known.digest(StickyState.Kind.OPTIMIZER, FlatVector.of(s.clone())));
    assertEquals(EXCHANGE, known.digest(StickyState.Kind.EXCHANGE, x.clone()));
    assertEquals(3, known.reused());

    // the same bits under another kind are not taken for that kind's value
    FlatVector asState = FlatVector.of(p.clone());
    assertEquals(StickyState.digest(asState), known.digest(StickyState.Kind.OPTIMIZER, asState));

    // one bit off anywhere, a NaN payload included (Float.equals takes both NaNs for equal)
    float[] nan = p.clone();
    nan[10_006] = Float.intBitsToFloat(0x7fc00001);
    float[] nan2 = nan.clone();
    nan2[10_006] = Float.intBitsToFloat(0x7fc00002);
    CommittedDigests withNan =
        CommittedDigests.of(List.of(raw(0, FlatVector.of(nan), s.clone(), null)));
    FlatVector other = FlatVector.of(nan2);
    assertEquals(StickyState.digest(other), withNan.digest(StickyState.Kind.PARAMS, other));
    assertNotEquals(PARAMS, withNan.digest(StickyState.Kind.PARAMS, other));
    float[] first = p.clone();
    first[0] = Math.nextUp(first[0]);
    assertEquals(
        StickyState.digest(FlatVector.of(first)),
        known.digest(StickyState.Kind.PARAMS, FlatVector.of(first)));
    float[] shorter = java.util.Arrays.copyOf(p, p.length - 1);
    assertEquals(
        StickyState.digest(FlatVector.of(shorter)),
        known.digest(StickyState.Kind.PARAMS, FlatVector.of(shorter)));
    byte[] y = {1, 2, 3, 4, 6};
    assertEquals(StickyState.digest(y), known.digest(StickyState.Kind.EXCHANGE, y));
  }

  @Test
  void resultsThatCarriedTheirStateThroughSparkNameNoDigestToReuse() {
    float[] s = values(4_001, 3);
    CollectiveResult spark =
        new CollectiveResult(
            0,
            null,
            FlatVector.of(s.clone()),
            0,
            s.length,
            0,
            0,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            null,
            0,
            0,
            0,
            0,
            "float32",
            null,
            0,
            null,
            STATE,
            null,
            false,
            0);
    CommittedDigests known = CommittedDigests.of(List.of(spark));
    assertEquals(0, known.size());
    FlatVector v = FlatVector.of(s.clone());
    assertEquals(StickyState.digest(v), known.digest(StickyState.Kind.OPTIMIZER, v));
  }

  private static CollectiveResult raw(int rank, FlatVector params, float[] state, byte[] x) {
    return new CollectiveResult(
        rank,
        params,
        FlatVector.of(state),
        0,
        state.length,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        x,
        0,
        0,
        0,
        0,
        "float32",
        null,
        0,
        PARAMS,
        STATE,
        x == null ? null : EXCHANGE,
        true,
        0);
  }

  private static float[] values(int n, long seed) {
    java.util.Random r = new java.util.Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }
}
