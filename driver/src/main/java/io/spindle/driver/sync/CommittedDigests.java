package io.spindle.driver.sync;

import io.spindle.tensor.FlatVector;
import io.spindle.worker.collective.CollectiveResult;
import io.spindle.worker.collective.StickyState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The values a collective round committed, each with the SHA-256 the round's server computed of its
 * bits as they arrived (and checked against the digest the task's result names), so that the next
 * round's start need not digest them again: a start value with exactly those bits (compared bit for
 * bit, raw IEEE bits for vectors, about a tenth of a SHA-256's time) has that digest; any other
 * value (a model restored from a checkpoint, changed by a listener, re-cut for another worker
 * count) is digested as before. Only the uploads of the rendezvous path are remembered: their
 * digests were checked by the server; a result that carries its state through Spark names digests
 * nobody checked.
 */
final class CommittedDigests {
  private record Known(StickyState.Kind kind, Object value, String digest) {}

  private final List<Known> known;
  private int reused;

  private CommittedDigests(List<Known> known) {
    this.known = known;
  }

  /** Nothing known: every value is digested. */
  static CommittedDigests none() {
    return new CommittedDigests(List.of());
  }

  /** The values of a committed round's results that came through the round's server. */
  static CommittedDigests of(List<CollectiveResult> results) {
    List<Known> known = new ArrayList<>();
    for (CollectiveResult r : results) {
      if (!r.raw()) {
        continue;
      }
      if (r.params() != null && r.paramsDigest() != null) {
        known.add(new Known(StickyState.Kind.PARAMS, r.params(), r.paramsDigest()));
      }
      if (r.state() != null && r.stateDigest() != null) {
        known.add(new Known(StickyState.Kind.OPTIMIZER, r.state(), r.stateDigest()));
      }
      if (r.exchangeState() != null && r.exchangeDigest() != null) {
        known.add(new Known(StickyState.Kind.EXCHANGE, r.exchangeState(), r.exchangeDigest()));
      }
    }
    return new CommittedDigests(known);
  }

  /** How many digests were reused rather than computed. */
  int reused() {
    return reused;
  }

  /** How many values are known (tests). */
  int size() {
    return known.size();
  }

  /**
   * {@link StickyState#digest(FlatVector)} of {@code v}: a known value's digest when {@code v} has
   * its exact bits, else computed.
   */
  String digest(StickyState.Kind kind, FlatVector v) {
    for (Known k : known) {
      if (k.kind == kind && k.value instanceof FlatVector f && f.sameBits(v)) {
        reused++;
        return k.digest;
      }
    }
    return StickyState.digest(v);
  }

  /** {@link StickyState#digest(byte[])} of {@code b}, as above. */
  String digest(StickyState.Kind kind, byte[] b) {
    for (Known k : known) {
      if (k.kind == kind && k.value instanceof byte[] f && Arrays.equals(f, b)) {
        reused++;
        return k.digest;
      }
    }
    return StickyState.digest(b);
  }
}
