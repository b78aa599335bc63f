package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class EpochPlanTest {
  @Test
  void permutationIsAPermutationAndDependsOnSeedAndEpoch() {
    EpochPlan a = new EpochPlan(1000, 32, 3, 42, 0);
    boolean[] seen = new boolean[1000];
    for (int p = 0; p < 1000; p++) {
      int i = a.exampleAt(p);
      assertFalse(seen[i], "example " + i + " appears twice");
      seen[i] = true;
      assertEquals(p, a.positionOf(i));
    }
    int[] first = order(a);
    assertTrue(Arrays.equals(first, order(new EpochPlan(1000, 32, 3, 42, 0))));
    assertFalse(Arrays.equals(first, order(new EpochPlan(1000, 32, 3, 42, 1))));
    assertFalse(Arrays.equals(first, order(new EpochPlan(1000, 32, 3, 43, 0))));
    assertNotEquals(-1, Arrays.mismatch(first, sorted(1000)), "the order must be shuffled");
  }

  @Test
  void workerSharesAreBalancedContiguousAndCoverEachStep() {
    for (int workers : new int[] {1, 2, 3, 4, 7}) {
      for (int n : new int[] {1, 5, 100, 1001}) {
        EpochPlan plan = new EpochPlan(n, 16, workers, 1, 0);
        assertEquals((n + 15) / 16, plan.stepsPerEpoch());
        for (int s = 0; s < plan.stepsPerEpoch(); s++) {
          int size = plan.stepSize(s);
          int[] count = new int[workers];
          int previous = 0;
          for (int off = 0; off < size; off++) {
            int w = plan.workerOf(s * 16 + off);
            assertTrue(w >= previous, "shares must be contiguous");
            previous = w;
            count[w]++;
            assertTrue(plan.sliceStart(size, w) <= off && off < plan.sliceStart(size, w + 1));
          }
          int min = Arrays.stream(count).min().getAsInt();
          int max = Arrays.stream(count).max().getAsInt();
          assertTrue(
              max - min <= 1, n + " examples, " + workers + " workers: " + Arrays.toString(count));
        }
      }
    }
  }

  @Test
  void lastStepIsSmallerWhenTheBatchDoesNotDivideTheSet() {
    EpochPlan plan = new EpochPlan(100, 32, 2, 0, 0);
    assertEquals(4, plan.stepsPerEpoch());
    assertEquals(32, plan.stepSize(0));
    assertEquals(4, plan.stepSize(3));
  }

  private static int[] order(EpochPlan plan) {
    int[] out = new int[plan.numExamples()];
    for (int p = 0; p < out.length; p++) {
      out[p] = plan.exampleAt(p);
    }
    return out;
  }

  private static int[] sorted(int n) {
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = i;
    }
    return out;
  }
}
