package io.spindle.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoubleSupplier;
import java.util.function.LongPredicate;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The central-difference check the gradient-check tests share: every entry i of the flat parameter
 * vector {@code w} (except those {@code skip} names) is moved by +-{@link #EPS}, the objective is
 * evaluated at both points, and {@code (plus - minus) / 2 EPS} must match {@code analytic[i]} to a
 * relative error of {@link #MAX_REL_ERROR} or an absolute one below {@code minAbsError}. The
 * parameter is restored after each entry.
 */
final class CentralDifferences {
  static final double EPS = 1e-6;
  static final double MAX_REL_ERROR = 1e-5;

  /** How many entries were checked, and how many of them had a numerical derivative above 1e-6. */
  record Result(long checked, long nonZero) {}

  private CentralDifferences() {}

  static Result check(
      String name,
      INDArray w,
      INDArray analytic,
      LongPredicate skip,
      DoubleSupplier objective,
      double minAbsError) {
    long checked = 0;
    long nonZero = 0;
    for (long i = 0; i < w.length(); i++) {
      if (skip.test(i)) {
        continue;
      }
      double orig = w.getDouble(i);
      w.putScalar(i, orig + EPS);
      double plus = objective.getAsDouble();
      w.putScalar(i, orig - EPS);
      double minus = objective.getAsDouble();
      w.putScalar(i, orig);
      double numeric = (plus - minus) / (2 * EPS);
      double a = analytic.getDouble(i);
      double absError = Math.abs(a - numeric);
      double relError = absError / Math.max(Math.abs(a), Math.abs(numeric));
      assertTrue(
          absError < minAbsError || relError < MAX_REL_ERROR,
          name
              + ": parameter "
              + i
              + " of "
              + w.length()
              + ": analytic "
              + a
              + ", numeric "
              + numeric
              + ", rel error "
              + relError);
      checked++;
      if (Math.abs(numeric) > 1e-6) {
        nonZero++;
      }
    }
    return new Result(checked, nonZero);
  }
}
