package io.spindle.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

/** Top-5 counts: the label among the 5 highest scores; merging; unknown stays unknown. */
class TopKAccuracyTest {
  @Test
  void labelAmongTheKHighestScores() {
    // 7 classes; row i scores class c as (c * 3 + i) % 7, so class c's rank differs per row
    double[][] s = new double[7][7];
    for (int i = 0; i < 7; i++) {
      for (int c = 0; c < 7; c++) {
        s[i][c] = (c * 3 + i) % 7;
      }
    }
    int[] labels = new int[9];
    for (int i = 0; i < 7; i++) {
      labels[i + 2] = 0; // from = 2: rows read labels[2..8]
    }
    // class 0 scores i in row i: ranks 7 - i (row 0: lowest, row 6: highest)
    long top5 = Evaluation.correctInTopK(Nd4j.create(s), labels, 2, 5);
    assertEquals(5, top5, "rows 2..6, where at most 4 classes score higher than class 0");
    assertEquals(1, Evaluation.correctInTopK(Nd4j.create(s), labels, 2, 1));
    assertEquals(7, Evaluation.correctInTopK(Nd4j.create(s), labels, 2, 7));
  }

  @Test
  void mergeAddsTopFiveAndUnknownStaysUnknown() {
    Evaluation a = new Evaluation(3, 5, 1.5, 8);
    Evaluation b = new Evaluation(1, 2, 0.5, 2);
    Evaluation m = Evaluation.empty().merge(a).merge(b);
    assertEquals(0.4, m.accuracy(), 1e-12);
    assertEquals(0.7, m.top5Accuracy(), 1e-12);
    assertEquals(m.top5Accuracy(), b.merge(a).top5Accuracy(), 0.0);
    assertTrue(Double.isNaN(m.merge(new Evaluation(1, 0.1, 1)).top5Accuracy()));
    assertTrue(Double.isNaN(new Evaluation(1, 0.1, 1).top5Accuracy()));
  }
}
