package io.spindle.worker.collective;

import io.spindle.compress.CompressionState;
import io.spindle.compress.GradientLayout;
import io.spindle.config.WireFormat;

/**
 * {@code bf16}: the ring of {@code none} with bfloat16 on the wire (half the bytes) and error
 * feedback on every rounding. Each step, on worker w:
 *
 * <pre>
 *   M_w = G_w + E_w;  E_w = 0
 *   ring reduce-scatter in bf16: before a chunk leaves, w rounds it in place to bf16 and adds
 *       what the rounding removed to E_w (at that chunk's indices), so the wire carries it exactly
 *   replicated: ring all-gather in bf16: the owner rounds its summed chunk the same way before it
 *       leaves, so every worker, the owner included, holds the same bf16 sum
 *   sharded (ZeRO-1): the owner keeps its chunk's fp32 sum
 * </pre>
 *
 * Every value a rounding removed anywhere in the ring sits in some worker's residual, so {@code
 * sum_w E_w + out = sum_w M_w} up to float rounding, as for the other lossy schemes: the rounding
 * of partial sums on their way round the ring is fed back too, not only each worker's own. Sums are
 * accumulated in fp32 on the receiver.
 */
final class Bf16Exchange implements GradientExchange {
  static final String NAME = "bf16";

  private final TcpRing ring;
  private final GradientLayout layout;
  private final int[] bounds;
  private final float[] residual;
  private final TcpRing.SendHook roundAndKeep;
  private long step;

  Bf16Exchange(TcpRing ring, GradientLayout layout) {
    this.ring = ring;
    this.layout = layout;
    this.bounds = TcpRing.bounds(layout.length(), ring.size());
    this.residual = new float[layout.length()];
    this.roundAndKeep =
        (data, from, to) -> {
          for (int i = from; i < to; i++) {
            float v = data[i];
            float q = WireFormat.fromBf16(WireFormat.toBf16(v));
            residual[i] += v - q;
            data[i] = q;
          }
        };
  }

  @Override
  public void reduce(float[] gradient, int from, int to, long iteration) {
    int n = residual.length;
    for (int i = 0; i < n; i++) {
      gradient[i] += residual[i];
      residual[i] = 0f;
    }
    if (from == 0 && to == n) {
      ring.allReduce(gradient, bounds, iteration, FIRST_TAG, WireFormat.BF16, roundAndKeep);
    } else {
      Ranges.checkOwnChunk(bounds, ring.rank(), from, to);
      ring.reduceScatter(gradient, bounds, iteration, FIRST_TAG, WireFormat.BF16, roundAndKeep);
    }
    step++;
  }

  @Override
  public CompressionState state() {
    return new CompressionState(
        NAME, layout.fingerprint(), 0, residual, step, new int[0], new int[0], new float[0]);
  }

  @Override
  public void restore(CompressionState s) {
    if (s == null) {
      return;
    }
    if (!s.codec().equals(NAME)
        || s.layoutFingerprint() != layout.fingerprint()
        || s.from() != 0
        || s.to() != residual.length
        || s.factors().length != 0) {
      throw new IllegalArgumentException(
          "cannot continue from "
              + s
              + " (layout "
              + Long.toHexString(s.layoutFingerprint())
              + "): expected a "
              + NAME
              + " state of "
              + residual.length
              + " values (layout "
              + Long.toHexString(layout.fingerprint())
              + ")");
    }
    System.arraycopy(s.residual(), 0, residual, 0, residual.length);
    step = s.step();
  }
}
