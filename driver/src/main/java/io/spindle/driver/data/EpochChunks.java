package io.spindle.driver.data;

import io.spindle.data.EpochPlan;
import io.spindle.data.ExampleBlock;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import scala.Tuple2;

/**
 * The map side of an epoch's shuffle: cuts each cached block into chunks of the rows that one
 * worker trains on in one group of consecutive steps, keyed {@code worker * groups + group}, each
 * row's id replaced by its epoch position. Lazy: one block's chunks at a time.
 */
final class EpochChunks implements Iterator<Tuple2<Integer, ExampleBlock>> {
  private final Iterator<ExampleBlock> blocks;
  private final EpochPlan plan;
  private final int stepsPerGroup;
  private final int groups;
  private ExampleBlock block;
  private long[] order = new long[0]; // key << 32 | row, sorted
  private int[] positions = new int[0];
  private int[] rows = new int[0];
  private int[] ids = new int[0];
  private int next;

  EpochChunks(Iterator<ExampleBlock> blocks, EpochPlan plan, int stepsPerGroup, int groups) {
    this.blocks = blocks;
    this.plan = plan;
    this.stepsPerGroup = stepsPerGroup;
    this.groups = groups;
    if (stepsPerGroup <= 0 || (long) plan.workers() * groups > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "expected stepsPerGroup > 0 and workers * groups within int, got "
              + stepsPerGroup
              + " and "
              + plan.workers()
              + " * "
              + groups);
    }
  }

  @Override
  public boolean hasNext() {
    while (block == null || next >= block.size()) {
      if (!blocks.hasNext()) {
        return false;
      }
      load(blocks.next());
    }
    return true;
  }

  private void load(ExampleBlock b) {
    int n = b.size();
    if (order.length < n) {
      order = new long[n];
      positions = new int[n];
      rows = new int[n];
      ids = new int[n];
    }
    int numExamples = plan.numExamples();
    for (int r = 0; r < n; r++) {
      int index = b.id(r);
      if (index < 0 || index >= numExamples) {
        throw new IllegalStateException(
            "example index "
                + index
                + " outside [0, "
                + numExamples
                + "); the training set must be indexed 0..n-1");
      }
      int position = plan.positionOf(index);
      positions[r] = position;
      int worker = plan.workerOf(position);
      int group = plan.stepOf(position) / stepsPerGroup;
      long key = (long) worker * groups + group;
      order[r] = key << 32 | r;
    }
    Arrays.sort(order, 0, n);
    block = b;
    next = 0;
  }

  @Override
  public Tuple2<Integer, ExampleBlock> next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    int n = block.size();
    long key = order[next] >>> 32;
    int count = 0;
    while (next < n && (order[next] >>> 32) == key) {
      int r = (int) order[next];
      rows[count] = r;
      ids[count] = positions[r];
      count++;
      next++;
    }
    return new Tuple2<>((int) key, block.select(rows, ids, count));
  }
}
