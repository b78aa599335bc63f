package io.spindle.driver.monitor;

import io.spindle.driver.RoundResult;
import io.spindle.driver.StepProgress;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingState;
import io.spindle.sync.Evaluation;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * A listener that publishes the latest training figures for {@link SpindlePlugin}'s gauges and
 * labels Spark's jobs and stages with the epoch and step they belong to, so the Spark UI reads like
 * a training log ("spindle epoch 2/8 step 41/235", "spindle epoch 2/8 evaluation").
 */
public final class TrainingGauges implements TrainingListener {
  /** The figures the gauges read. */
  public record Snapshot(
      int epoch,
      long globalStep,
      double loss,
      double trainAccuracy,
      double testAccuracy,
      double samplesPerSecond) {}

  private static final AtomicReference<Snapshot> CURRENT =
      new AtomicReference<>(new Snapshot(0, 0, Double.NaN, Double.NaN, Double.NaN, 0));

  private final JavaSparkContext sc;
  private final int epochs;
  private int stepsPerEpoch;

  public TrainingGauges(JavaSparkContext sc, int epochs) {
    this.sc = sc;
    this.epochs = epochs;
  }

  public static Snapshot current() {
    return CURRENT.get();
  }

  @Override
  public void onStart(io.spindle.driver.GlobalModel model, int stepsPerEpoch) {
    this.stepsPerEpoch = stepsPerEpoch;
    CURRENT.set(new Snapshot(1, 0, Double.NaN, Double.NaN, Double.NaN, 0));
    describe(1, 1);
  }

  @Override
  public void onRound(TrainingState state, RoundResult round) {
    Snapshot s = CURRENT.get();
    CURRENT.set(
        new Snapshot(
            state.epoch() + 1,
            state.globalStep(),
            round.meanLoss(),
            (double) round.correct() / Math.max(1, round.examples()),
            s.testAccuracy(),
            round.examples() / Math.max(1e-9, round.seconds())));
    if (state.stepInEpoch() >= stepsPerEpoch) {
      sc.setJobDescription(
          String.format("spindle epoch %d/%d evaluation", state.epoch() + 1, epochs));
    } else {
      describe(state.epoch() + 1, state.stepInEpoch() + 1);
    }
  }

  /** Live figures inside a long round, for the gauges (the round's job description is fixed). */
  @Override
  public void onProgress(TrainingState state, StepProgress p) {
    Snapshot s = CURRENT.get();
    CURRENT.set(
        new Snapshot(
            state.epoch() + 1,
            p.globalStep(),
            p.meanLoss(),
            (double) p.correct() / Math.max(1, p.examples()),
            s.testAccuracy(),
            p.examples() / Math.max(1e-9, p.seconds())));
  }

  @Override
  public void onEpochEnd(TrainingState state, Evaluation test) {
    Snapshot s = CURRENT.get();
    CURRENT.set(
        new Snapshot(
            s.epoch(),
            s.globalStep(),
            s.loss(),
            s.trainAccuracy(),
            test.accuracy(),
            s.samplesPerSecond()));
    describe(state.epoch() + 2, 1);
  }

  private void describe(int epoch, int step) {
    sc.setJobDescription(
        String.format("spindle epoch %d/%d step %d/%d", epoch, epochs, step, stepsPerEpoch));
  }
}
