package io.spindle.driver.listen;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import io.spindle.driver.StepProgress;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingState;
import io.spindle.sync.Evaluation;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Progress on the console and one JSON object per logged step and per epoch in {@code
 * metrics.jsonl}. Step records cover the rounds since the previous record: their mean loss,
 * training accuracy (of the model before each update) and samples per second of training rounds,
 * and the learning rate of the last step applied. Records of a phase other than training (an
 * autoencoder of layer-wise pre-training) carry its name under {@code phase}, and its console lines
 * begin with its label.
 */
public final class MetricsLog implements TrainingListener, AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The phase a log reports on.
   *
   * @param name the {@code phase} of its records ("" for training: no {@code phase} key)
   * @param label what its console lines begin with ("" for training)
   * @param accuracy whether test accuracy means anything (not for an autoencoder)
   */
  public record Phase(String name, String label, boolean accuracy) {
    public static final Phase TRAINING = new Phase("", "", true);
  }

  private final BufferedWriter out;
  private final PrintStream console;
  private final int logEvery;
  private final int epochs;
  private final Phase phase;
  private int stepsPerEpoch;
  private GlobalModel model;
  private long nextLog;
  private double lossSum;
  private long examples;
  private long correct;
  private double seconds;
  private double epochSeconds;
  private long epochExamples;
  private double epochLossSum;
  private long epochCorrect;
  private double trainSeconds;
  private long reportedExamples;
  private long reportedCorrect;
  private double reportedLossSum;
  private double reportedSeconds;
  private long lastLogged = -1;
  private double secondsPerStep = Double.NaN;
  private double epochOverhead;
  private double lastEpochWall;

  public MetricsLog(Path file, PrintStream console, int logEvery, int epochs) {
    this(file, console, logEvery, epochs, false);
  }

  /**
   * @param append continue an existing log (a resumed run) instead of starting a new one
   */
  public MetricsLog(Path file, PrintStream console, int logEvery, int epochs, boolean append) {
    this(file, console, logEvery, epochs, append, Phase.TRAINING);
  }

  /**
   * @param append continue an existing log (a resumed run, or a later phase) instead of starting a
   *     new one
   */
  public MetricsLog(
      Path file, PrintStream console, int logEvery, int epochs, boolean append, Phase phase) {
    try {
      this.out =
          append
              ? Files.newBufferedWriter(
                  file,
                  StandardCharsets.UTF_8,
                  java.nio.file.StandardOpenOption.CREATE,
                  java.nio.file.StandardOpenOption.APPEND)
              : Files.newBufferedWriter(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + file + ": " + e.getMessage(), e);
    }
    this.console = console;
    this.logEvery = logEvery;
    this.epochs = epochs;
    this.nextLog = logEvery;
    this.phase = phase;
  }

  @Override
  public void onStart(GlobalModel model, int stepsPerEpoch) {
    this.stepsPerEpoch = stepsPerEpoch;
    this.model = model;
  }

  @Override
  public void onEpochEnd(TrainingState state, Evaluation test) {
    double wall = state.wallSeconds();
    // evaluation, shuffle and round set-up: the epoch's wall time outside its training rounds
    epochOverhead = Math.max(0, wall - lastEpochWall - epochSeconds);
    lastEpochWall = wall;
    writeEpoch(state, test);
  }

  /**
   * Progress inside a long round (the collective engine): counted like a round, and a step record
   * when it crosses {@code logEvery}; the round's {@link #onRound} then adds only the rest.
   */
  @Override
  public void onProgress(TrainingState state, StepProgress p) {
    add(p.examples(), p.correct(), p.lossSum(), p.seconds());
    reportedExamples += p.examples();
    reportedCorrect += p.correct();
    reportedLossSum += p.lossSum();
    reportedSeconds += p.seconds();
    if ((p.globalStep() >= nextLog || p.stepInEpoch() == stepsPerEpoch) && examples > 0) {
      writeStep(state.epoch(), p.stepInEpoch(), p.globalStep(), state.wallSeconds());
    }
  }

  @Override
  public void onRound(TrainingState state, RoundResult round) {
    // what progress reports of this round did not cover yet (clamped: a relaunched stage's repeated
    // steps are reported once, the round's result counts them once too)
    add(
        Math.max(0, round.examples() - reportedExamples),
        Math.max(0, round.correct() - reportedCorrect),
        Math.max(0, round.meanLoss() * round.examples() - reportedLossSum),
        Math.max(0, round.seconds() - reportedSeconds));
    reportedExamples = 0;
    reportedCorrect = 0;
    reportedLossSum = 0;
    reportedSeconds = 0;
    if ((state.globalStep() >= nextLog || state.stepInEpoch() == stepsPerEpoch)
        && state.globalStep() > lastLogged
        && examples > 0) {
      writeStep(state.epoch(), state.stepInEpoch(), state.globalStep(), state.wallSeconds());
    }
  }

  private void add(long n, long right, double loss, double secs) {
    lossSum += loss;
    examples += n;
    correct += right;
    seconds += secs;
    epochSeconds += secs;
    epochExamples += n;
    epochLossSum += loss;
    epochCorrect += right;
    trainSeconds += secs;
  }

  private void writeStep(int epoch, int stepInEpoch, long globalStep, double wall) {
    double loss = lossSum / examples;
    double acc = (double) correct / examples;
    double rate = examples / seconds;
    long stepsCovered = globalStep - lastLogged;
    if (stepsCovered > 0 && seconds > 0) {
      double perStep = seconds / stepsCovered;
      secondsPerStep =
          Double.isNaN(secondsPerStep) ? perStep : 0.8 * secondsPerStep + 0.2 * perStep;
    }
    Map<String, Object> rec = new LinkedHashMap<>();
    rec.put("type", "step");
    rec.put("epoch", epoch + 1);
    rec.put("step", stepInEpoch);
    rec.put("global_step", globalStep);
    rec.put("loss", loss);
    rec.put("accuracy", acc);
    rec.put("samples_per_second", rate);
    // the schedule's rate of the last step applied (global step j = globalStep - 1)
    rec.put("learning_rate", model.globalStep().learningRate(globalStep - 1));
    rec.put("wall_seconds", wall);
    write(rec);
    console.printf(
        Locale.ROOT,
        prefix()
            + "epoch %d/%d  step %d/%d  (global %d)  loss %.4f  acc %.4f  %.0f samples/s  ETA %s%n",
        epoch + 1,
        epochs,
        stepInEpoch,
        stepsPerEpoch,
        globalStep,
        loss,
        acc,
        rate,
        eta(epoch, globalStep));
    lossSum = 0;
    examples = 0;
    correct = 0;
    seconds = 0;
    lastLogged = globalStep;
    while (nextLog <= globalStep) {
      nextLog += logEvery;
    }
  }

  /**
   * Time left: the remaining steps at an exponentially weighted mean of seconds per step (weight
   * 0.2 per record), plus the remaining epochs' evaluation and shuffle at the last epoch's.
   */
  private String eta(int epoch, long globalStep) {
    long total = (long) epochs * stepsPerEpoch;
    long left = Math.max(0, total - globalStep);
    int epochEndsLeft = epochs - epoch;
    double secs = left * secondsPerStep + epochEndsLeft * epochOverhead;
    if (Double.isNaN(secs)) {
      return "?";
    }
    long t = Math.round(secs);
    return t >= 3600
        ? String.format(Locale.ROOT, "%dh%02dm", t / 3600, t / 60 % 60)
        : t >= 60 ? String.format(Locale.ROOT, "%dm%02ds", t / 60, t % 60) : t + "s";
  }

  private void writeEpoch(TrainingState state, Evaluation test) {
    Map<String, Object> rec = new LinkedHashMap<>();
    rec.put("type", "epoch");
    rec.put("epoch", state.epoch() + 1);
    rec.put("global_step", state.globalStep());
    rec.put("train_loss", epochLossSum / Math.max(1, epochExamples));
    rec.put("train_accuracy", (double) epochCorrect / Math.max(1, epochExamples));
    rec.put("test_loss", test.meanLoss());
    rec.put("test_accuracy", test.accuracy());
    if (!Double.isNaN(test.top5Accuracy())) {
      rec.put("test_top5_accuracy", test.top5Accuracy());
    }
    rec.put("samples_per_second", epochExamples / Math.max(1e-9, epochSeconds));
    rec.put("wall_seconds", state.wallSeconds());
    write(rec);
    console.printf(
        Locale.ROOT,
        prefix()
            + "epoch %d/%d done: "
            + (phase.accuracy() ? "test accuracy %.4f  " : "%s")
            + "test loss %.4f  (%.0f samples/s, %.1f s elapsed)%n",
        state.epoch() + 1,
        epochs,
        phase.accuracy() ? test.accuracy() : "",
        test.meanLoss(),
        epochExamples / Math.max(1e-9, epochSeconds),
        state.wallSeconds());
    epochSeconds = 0;
    epochExamples = 0;
    epochLossSum = 0;
    epochCorrect = 0;
  }

  /** Seconds spent in training rounds so far (excludes shuffles and evaluation). */
  public double trainSeconds() {
    return trainSeconds;
  }

  private String prefix() {
    return phase.label().isEmpty() ? "" : phase.label() + ", ";
  }

  private void write(Map<String, Object> record) {
    if (!phase.name().isEmpty()) {
      record.put("phase", phase.name());
    }
    try {
      out.write(JSON.writeValueAsString(record));
      out.newLine();
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write metrics: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
