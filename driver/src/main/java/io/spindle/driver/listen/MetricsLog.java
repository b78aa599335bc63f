package io.spindle.driver.listen;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
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
  public void onRound(TrainingState state, RoundResult round) {
    lossSum += round.meanLoss() * round.examples();
    examples += round.examples();
    correct += round.correct();
    seconds += round.seconds();
    epochSeconds += round.seconds();
    epochExamples += round.examples();
    epochLossSum += round.meanLoss() * round.examples();
    epochCorrect += round.correct();
    trainSeconds += round.seconds();
    if (state.globalStep() >= nextLog || state.stepInEpoch() == stepsPerEpoch) {
      double loss = lossSum / examples;
      double acc = (double) correct / examples;
      double rate = examples / seconds;
      Map<String, Object> rec = new LinkedHashMap<>();
      rec.put("type", "step");
      rec.put("epoch", state.epoch() + 1);
      rec.put("step", state.stepInEpoch());
      rec.put("global_step", state.globalStep());
      rec.put("loss", loss);
      rec.put("accuracy", acc);
      rec.put("samples_per_second", rate);
      // the schedule's rate of the last step applied (global step j = globalStep - 1)
      rec.put("learning_rate", model.globalStep().learningRate(state.globalStep() - 1));
      rec.put("wall_seconds", state.wallSeconds());
      write(rec);
      console.printf(
          Locale.ROOT,
          prefix() + "epoch %d/%d  step %d/%d  (global %d)  loss %.4f  acc %.4f  %.0f samples/s%n",
          state.epoch() + 1,
          epochs,
          state.stepInEpoch(),
          stepsPerEpoch,
          state.globalStep(),
          loss,
          acc,
          rate);
      lossSum = 0;
      examples = 0;
      correct = 0;
      seconds = 0;
      while (nextLog <= state.globalStep()) {
        nextLog += logEvery;
      }
    }
  }

  @Override
  public void onEpochEnd(TrainingState state, Evaluation test) {
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
