package io.spindle.worker.collective;

import io.spindle.compress.CompressionState;
import io.spindle.compress.GradientLayout;
import io.spindle.compress.PowerSgdCodec;
import io.spindle.config.WireFormat;

/**
 * {@code powersgd}: {@link PowerSgdCodec} over the ring. Each step: compress into buffer 1 (the P
 * factors and the uncompressed vectors), fp32 all-reduce of it (tag 0), project into buffer 2 (the
 * Q factors), fp32 all-reduce of that (tag 1), decompress the range this worker updates. Both
 * all-reduces deliver the same bits everywhere, so every worker decompresses the same sum.
 */
final class PowerSgdExchange implements GradientExchange {
  private final TcpRing ring;
  private final PowerSgdCodec codec;
  private final float[] first;
  private final float[] second;
  private final int[] firstBounds;
  private final int[] secondBounds;

  PowerSgdExchange(TcpRing ring, GradientLayout layout, int rank, long seed) {
    this.ring = ring;
    this.codec = new PowerSgdCodec(layout, rank, seed);
    this.first = new float[codec.firstLength()];
    this.second = new float[codec.secondLength()];
    this.firstBounds = TcpRing.bounds(first.length, ring.size());
    this.secondBounds = TcpRing.bounds(second.length, ring.size());
  }

  @Override
  public void reduce(float[] gradient, int from, int to, long iteration) {
    Ranges.checkWithin(codec.layout().length(), from, to);
    codec.compress(gradient, 0, first);
    ring.allReduce(first, firstBounds, iteration, FIRST_TAG, WireFormat.FP32, null);
    codec.project(first, second);
    ring.allReduce(second, secondBounds, iteration, SECOND_TAG, WireFormat.FP32, null);
    codec.decompress(first, second, gradient, from, from, to);
  }

  @Override
  public CompressionState state() {
    return codec.state();
  }

  @Override
  public void restore(CompressionState state) {
    if (state != null) {
      codec.restore(state);
    }
  }
}
