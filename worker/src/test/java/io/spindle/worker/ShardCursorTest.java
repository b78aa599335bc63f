package io.spindle.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.data.MiniBatch;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShardCursorTest {
  /** Batches of steps {@code from..to-1}, {@code shards} per step, sized to tell them apart. */
  static List<MiniBatch> partition(int from, int to, int shards) {
    List<MiniBatch> out = new ArrayList<>();
    for (int step = from; step < to; step++) {
      for (int s = 0; s < shards; s++) {
        int size = 1 + s;
        out.add(new MiniBatch(step, size, 1, new float[size], new int[size]));
      }
    }
    return out;
  }

  @Test
  void handsOutEachStepsShardsInOrderFromTheFirstStep() {
    List<MiniBatch> p = partition(0, 6, 2);
    ShardCursor c = new ShardCursor(p.iterator(), 3, 2);
    assertEquals(3, c.step());
    List<MiniBatch> step3 = c.next();
    assertSame(p.get(6), step3.get(0));
    assertSame(p.get(7), step3.get(1));
    assertEquals(4, c.step());
    assertEquals(List.of(p.get(8), p.get(9)), c.next());
  }

  @Test
  void readsAPartitionThatStartsAtTheRoundsStep() {
    List<MiniBatch> p = partition(5, 7, 3);
    ShardCursor c = new ShardCursor(p.iterator(), 5, 3);
    assertEquals(p.subList(0, 3), c.next());
    assertEquals(p.subList(3, 6), c.next());
    IllegalStateException end = assertThrows(IllegalStateException.class, c::next);
    assertTrue(end.getMessage().contains("ends before the batch of shard 0 of 3 of step 7"));
  }

  @Test
  void aMissingShardOrAStepOutOfOrderFailsLoudly() {
    List<MiniBatch> p = partition(0, 3, 2);
    p.remove(3); // shard 1 of step 1
    ShardCursor c = new ShardCursor(p.iterator(), 0, 2);
    c.next();
    IllegalStateException e = assertThrows(IllegalStateException.class, c::next);
    assertTrue(
        e.getMessage().contains("expected the batch of shard 1 of 2 of step 1, found step 2"),
        e.getMessage());
    IllegalStateException late =
        assertThrows(
            IllegalStateException.class,
            () -> new ShardCursor(partition(4, 6, 1).iterator(), 2, 1).next());
    assertTrue(late.getMessage().contains("expected the batch of shard 0 of 1 of step 2"));
  }
}
