package io.spindle.worker.collective;

/** Checks of the ranges an exchange is asked to reduce. */
final class Ranges {
  private Ranges() {}

  /** A partial range must be this rank's chunk of the ring: what a reduce-scatter leaves summed. */
  static void checkOwnChunk(int[] bounds, int rank, int from, int to) {
    if (from != bounds[rank] || to != bounds[rank + 1]) {
      throw new IllegalArgumentException(
          "rank "
              + rank
              + " can reduce the whole vector [0, "
              + bounds[bounds.length - 1]
              + ") or its own chunk ["
              + bounds[rank]
              + ", "
              + bounds[rank + 1]
              + "), was asked for ["
              + from
              + ", "
              + to
              + ")");
    }
  }

  static void checkWithin(int length, int from, int to) {
    if (from < 0 || to > length || from > to) {
      throw new IllegalArgumentException(
          "range [" + from + ", " + to + ") is not within [0, " + length + ")");
    }
  }
}
