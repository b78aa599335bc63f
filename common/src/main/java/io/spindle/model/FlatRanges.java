package io.spindle.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Sorted, disjoint index ranges {@code [from, to)} of the flat parameter vector, which a shard of
 * that vector slices into its own frame: the common part of {@link RawUpdateRanges} and {@link
 * CancelledBiases}.
 */
abstract class FlatRanges implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  /** Pairs {@code from, to} (exclusive), ascending. */
  private final int[] ranges;

  FlatRanges(int[] ranges) {
    this.ranges = ranges;
  }

  public final boolean isEmpty() {
    return ranges.length == 0;
  }

  /** Number of ranges. */
  public final int count() {
    return ranges.length / 2;
  }

  public final int from(int range) {
    return ranges[2 * range];
  }

  public final int to(int range) {
    return ranges[2 * range + 1];
  }

  /** The pairs of the ranges within {@code [from, to)}, relative to {@code from}. */
  final int[] sliced(int from, int to) {
    List<Integer> out = new ArrayList<>();
    for (int r = 0; r < count(); r++) {
      int a = Math.max(from(r), from);
      int b = Math.min(to(r), to);
      if (a < b) {
        out.add(a - from);
        out.add(b - from);
      }
    }
    return pairs(out);
  }

  static int[] pairs(List<Integer> out) {
    return out.stream().mapToInt(i -> i).toArray();
  }

  @Override
  public final String toString() {
    return getClass().getSimpleName() + Arrays.toString(ranges);
  }
}
