package io.spindle.worker.collective;

import io.spindle.compress.CompressionState;
import io.spindle.compress.GradientLayout;
import io.spindle.compress.TopKCodec;
import io.spindle.config.WireFormat;
import java.util.Arrays;

/**
 * {@code topk}: {@link TopKCodec} over the ring. Each step every worker writes its k (index, value)
 * pairs into its own slot of a buffer of N slots, an fp32 all-gather (tag 0) fills the others, and
 * every worker adds all N slots in rank order into the range it updates: the same sums everywhere.
 */
final class TopKExchange implements GradientExchange {
  private final TcpRing ring;
  private final TopKCodec codec;
  private final float[] pairs;
  private final int[] bounds;

  TopKExchange(TcpRing ring, GradientLayout layout, double fraction) {
    this.ring = ring;
    this.codec = new TopKCodec(layout, fraction);
    int slot = codec.wireLength();
    this.pairs = new float[slot * ring.size()];
    this.bounds = new int[ring.size() + 1];
    for (int r = 0; r <= ring.size(); r++) {
      bounds[r] = r * slot;
    }
  }

  @Override
  public void reduce(float[] gradient, int from, int to, long iteration) {
    Ranges.checkWithin(gradient.length, from, to);
    int slot = codec.wireLength();
    codec.compress(gradient, 0, pairs, ring.rank() * slot);
    ring.allGather(pairs, bounds, iteration, FIRST_TAG, WireFormat.FP32, null);
    Arrays.fill(gradient, from, to, 0f);
    for (int w = 0; w < ring.size(); w++) {
      TopKCodec.accumulate(pairs, w * slot, codec.k(), gradient, from, from, to);
    }
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
