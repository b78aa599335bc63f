package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShardAssignmentTest {
  @Test
  void threeShardsOverTwoWorkers() {
    ShardAssignment a = new ShardAssignment(3, 2);
    assertEquals(0, a.first(0));
    assertEquals(1, a.end(0));
    assertEquals(1, a.first(1));
    assertEquals(3, a.end(1));
    assertEquals(0, a.workerOf(0));
    assertEquals(1, a.workerOf(1));
    assertEquals(1, a.workerOf(2));
    assertTrue(new ShardAssignment(4, 4).isIdentity());
  }

  @Test
  void everyShardHasExactlyOneWorkerAndCountsDifferByAtMostOne() {
    for (int shards = 1; shards <= 24; shards++) {
      for (int workers = 1; workers <= shards; workers++) {
        ShardAssignment a = new ShardAssignment(shards, workers);
        int covered = 0;
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (int w = 0; w < workers; w++) {
          assertEquals(covered, a.first(w), shards + "/" + workers + " worker " + w);
          for (int s = a.first(w); s < a.end(w); s++) {
            assertEquals(w, a.workerOf(s), shards + "/" + workers + " shard " + s);
          }
          covered = a.end(w);
          min = Math.min(min, a.count(w));
          max = Math.max(max, a.count(w));
        }
        assertEquals(shards, covered);
        assertTrue(min >= 1 && max - min <= 1, shards + "/" + workers + ": " + min + ".." + max);
      }
    }
  }

  @Test
  void refusesMoreWorkersThanShardsAndShardsOutOfRange() {
    assertThrows(IllegalArgumentException.class, () -> new ShardAssignment(2, 3));
    assertThrows(IllegalArgumentException.class, () -> new ShardAssignment(2, 0));
    assertThrows(IllegalArgumentException.class, () -> new ShardAssignment(4, 2).workerOf(4));
  }
}
