package io.spindle.bench;

/**
 * Bytes and message phases of the collective engine's ring ({@code TcpRing}) per worker, exactly as
 * its protocol sends them, for the scaling model.
 *
 * <p>A vector of n values over N ranks is cut into chunks {@code [c n / N, (c + 1) n / N)}. A ring
 * reduce-scatter runs N - 1 phases; in them each rank sends every chunk but one (its own), each
 * chunk in blocks of at most 65,536 values behind a 40-byte header (an empty chunk still sends one
 * header). An all-gather likewise. Averaged over the ranks, a worker sends per reduce-scatter or
 * all-gather {@code (N - 1) / N * sum over chunks of (values * bytes per value + 40 * blocks)}: the
 * familiar {@code 2 (N - 1) / N * bytes} of an all-reduce, plus headers. Each phase costs one
 * message latency on top of its bytes; all N links carry their phase at once (a full-duplex switch
 * port per host), so a phase lasts {@code latency + bytes of the phase / rate}.
 */
final class RingCost {
  /** {@code TcpRing.HEADER_BYTES}: magic, step, op, phase, chunk, offset, length, model version. */
  static final int HEADER_BYTES = 40;

  /** {@code TcpRing.BLOCK_VALUES}. */
  static final int BLOCK_VALUES = 1 << 16;

  private RingCost() {}

  /** Bytes one chunk costs on the wire. */
  static long chunkBytes(long values, int bytesPerValue) {
    long blocks = Math.max(1, (values + BLOCK_VALUES - 1) / BLOCK_VALUES);
    return values * bytesPerValue + blocks * HEADER_BYTES;
  }

  /**
   * Mean bytes a worker sends in one reduce-scatter (or one all-gather) of an {@code n}-value
   * vector over {@code ranks} ranks.
   */
  static double halfAllReduceBytes(long n, int ranks, int bytesPerValue) {
    if (ranks < 2) {
      return 0;
    }
    long total = 0;
    for (int c = 0; c < ranks; c++) {
      long from = c * n / ranks;
      long to = (c + 1) * n / ranks;
      total += chunkBytes(to - from, bytesPerValue);
    }
    return (double) (ranks - 1) / ranks * total;
  }

  /** Mean bytes a worker sends in one all-reduce (reduce-scatter + all-gather). */
  static double allReduceBytes(long n, int ranks, int bytesPerValue) {
    return 2 * halfAllReduceBytes(n, ranks, bytesPerValue);
  }

  /**
   * Bytes a worker sends in an all-gather in which every rank contributes {@code valuesPerRank}
   * values (top-k's pairs): N - 1 chunks of that size.
   */
  static double allGatherBytes(long valuesPerRank, int ranks, int bytesPerValue) {
    return ranks < 2 ? 0 : (double) (ranks - 1) * chunkBytes(valuesPerRank, bytesPerValue);
  }

  /** Message phases of an all-reduce: 2 (N - 1). */
  static int allReducePhases(int ranks) {
    return ranks < 2 ? 0 : 2 * (ranks - 1);
  }

  /** Message phases of an all-gather or a reduce-scatter: N - 1. */
  static int halfPhases(int ranks) {
    return ranks < 2 ? 0 : ranks - 1;
  }
}
