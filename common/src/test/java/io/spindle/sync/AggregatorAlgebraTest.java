package io.spindle.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.spindle.tensor.FlatVector;
import org.junit.jupiter.api.Test;

/** The merge algebra Spark relies on: identity, associativity, commutativity, weighting. */
class AggregatorAlgebraTest {
  static GradientAggregator grad(double a, double b, long n) {
    return GradientAggregator.empty().add(FlatVector.of(new double[] {a, b}), 10.0 * n, n, n / 2);
  }

  @Test
  void emptyGradientAggregatorIsTheIdentity() {
    GradientAggregator x = grad(1, 2, 4);
    GradientAggregator left = GradientAggregator.empty().merge(grad(1, 2, 4));
    GradientAggregator right = grad(1, 2, 4).merge(GradientAggregator.empty());
    for (GradientAggregator g : new GradientAggregator[] {left, right}) {
      assertEquals(x.gradientSum(), g.gradientSum());
      assertEquals(x.examples(), g.examples());
      assertEquals(x.meanLoss(), g.meanLoss());
      assertEquals(x.correct(), g.correct());
    }
    assertNull(GradientAggregator.empty().gradientSum());
    assertEquals(0, GradientAggregator.empty().merge(GradientAggregator.empty()).examples());
  }

  @Test
  void gradientMergeIsAssociativeAndCommutative() {
    GradientAggregator ab_c = grad(1, 2, 3).merge(grad(0.5, -1, 2)).merge(grad(4, 8, 1));
    GradientAggregator a_bc = grad(1, 2, 3).merge(grad(0.5, -1, 2).merge(grad(4, 8, 1)));
    GradientAggregator cba = grad(4, 8, 1).merge(grad(0.5, -1, 2)).merge(grad(1, 2, 3));
    for (GradientAggregator g : new GradientAggregator[] {a_bc, cba}) {
      assertEquals(ab_c.gradientSum(), g.gradientSum());
      assertEquals(ab_c.examples(), g.examples());
    }
    assertEquals(5.5, ab_c.gradientSum().get(0), 1e-12);
    assertEquals(9.0, ab_c.gradientSum().get(1), 1e-12);
    assertEquals(6, ab_c.examples());
    assertEquals(10.0, ab_c.meanLoss(), 1e-12);
  }

  @Test
  void mergeDoesNotAliasTheAddedVector() {
    FlatVector v = FlatVector.of(new double[] {1, 1});
    GradientAggregator g = GradientAggregator.empty().add(v, 0, 1, 0);
    g.merge(grad(1, 1, 1));
    assertEquals(1.0, v.get(0));
  }

  @Test
  void averagingWeightsByExamplesAndHasAnIdentity() {
    AveragingAggregator a =
        AveragingAggregator.empty()
            .add(FlatVector.of(new double[] {1, 0}), FlatVector.of(new double[] {2}), 3, 1, 1, 2);
    AveragingAggregator b =
        AveragingAggregator.empty()
            .add(FlatVector.of(new double[] {4, 3}), FlatVector.of(new double[] {8}), 6, 2, 2, 2);
    AveragingAggregator merged = AveragingAggregator.empty().merge(a).merge(b);
    // weights 1/3 and 2/3
    assertEquals(3.0, merged.averageParams().get(0), 1e-12);
    assertEquals(2.0, merged.averageParams().get(1), 1e-12);
    assertEquals(6.0, merged.averageState().get(0), 1e-12);
    assertEquals(3, merged.examples());
    assertEquals(3.0, merged.meanLoss(), 1e-12);
    assertEquals(2, merged.steps());
    AveragingAggregator reversed = b.merge(a);
    assertEquals(merged.averageParams(), reversed.averageParams());
  }

  @Test
  void evaluationMergeAddsCounts() {
    Evaluation e =
        Evaluation.empty().merge(new Evaluation(3, 1.5, 4)).merge(new Evaluation(1, 0.5, 4));
    assertEquals(0.5, e.accuracy(), 1e-12);
    assertEquals(0.25, e.meanLoss(), 1e-12);
    assertEquals(8, e.examples());
  }
}
