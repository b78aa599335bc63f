package io.spindle.worker.collective;

import io.spindle.compress.CompressionState;
import java.nio.FloatBuffer;

/**
 * {@code none}: the exact fp32 sum. Replicated: a ring all-reduce; sharded (ZeRO-1): a
 * reduce-scatter, after which rank r holds the sum of its own chunk only. Either reads the gradient
 * straight from the network's native buffer when given it. No state.
 */
final class ExactExchange implements GradientExchange {
  private final TcpRing ring;
  private final int[] bounds;

  ExactExchange(TcpRing ring, int length) {
    this.ring = ring;
    this.bounds = TcpRing.bounds(length, ring.size());
  }

  @Override
  public void reduce(float[] gradient, int from, int to, long iteration) {
    reduce(null, gradient, from, to, iteration);
  }

  /**
   * The ring reads the gradient's chunks from {@code local} where it needs them: no whole copy to
   * the heap first (see {@link TcpRing#reduceScatter(float[], FloatBuffer, int[], long)}).
   */
  @Override
  public void reduce(FloatBuffer local, float[] gradient, int from, int to, long iteration) {
    if (from == 0 && to == gradient.length) {
      ring.allReduce(gradient, local, bounds, iteration);
    } else {
      Ranges.checkOwnChunk(bounds, ring.rank(), from, to);
      ring.reduceScatter(gradient, local, bounds, iteration);
    }
  }

  @Override
  public CompressionState state() {
    return null;
  }

  @Override
  public void restore(CompressionState state) {
    if (state != null) {
      throw new IllegalArgumentException(
          "compression none keeps no state, but was given " + state + " to continue from");
    }
  }
}
