package io.spindle.driver.checkpoint;

import io.spindle.config.CheckpointConfig;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingState;
import io.spindle.sync.Evaluation;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Writes checkpoints as the config asks: after the round that reaches each multiple of {@code
 * everySteps}, after every epoch's evaluation, and at the end of the run; then applies retention.
 * Register it after the {@link io.spindle.driver.listen.DivergenceGuard}, so a diverged state is
 * never saved (the store refuses one anyway).
 */
public final class CheckpointListener implements TrainingListener {
  private final CheckpointStore store;
  private final CheckpointConfig policy;
  private final SpindleConfig config;
  private final String sync;
  private final PrintStream console;
  private GlobalModel model;
  private int stepsPerEpoch;
  private long previousStep;
  private long lastWritten;
  private int written;
  private double writeSeconds;
  private long lastBytes;

  /**
   * @param startStep the global step the run starts from (that of the checkpoint it resumed from,
   *     else 0), which is never written again
   */
  public CheckpointListener(
      CheckpointStore store,
      SpindleConfig config,
      String sync,
      PrintStream console,
      long startStep) {
    this.store = store;
    this.policy = config.checkpoint();
    this.config = config;
    this.sync = sync;
    this.console = console;
    this.previousStep = startStep;
    this.lastWritten = startStep;
  }

  @Override
  public void onStart(GlobalModel model, int stepsPerEpoch) {
    this.model = model;
    this.stepsPerEpoch = stepsPerEpoch;
    store.removePartial(console);
  }

  @Override
  public void onRound(TrainingState state, RoundResult round) {
    long step = state.globalStep();
    if (policy.everySteps() > 0
        && step / policy.everySteps() > previousStep / policy.everySteps()) {
      write(state, false);
    }
    previousStep = step;
  }

  @Override
  public void onEpochEnd(TrainingState state, Evaluation test) {
    if (policy.everyEpoch()) {
      write(state, true);
    }
  }

  @Override
  public void onEnd(TrainingState state, GlobalModel model, Evaluation test) {
    if (policy.enabled()) {
      write(state, true);
    }
  }

  private void write(TrainingState state, boolean evaluated) {
    if (state.globalStep() == lastWritten && state.globalStep() > 0) {
      return;
    }
    long start = System.nanoTime();
    CheckpointSnapshot snapshot =
        new CheckpointSnapshot(
            state.globalStep(),
            state.epoch(),
            state.stepInEpoch(),
            stepsPerEpoch,
            evaluated,
            state.examplesSeen(),
            config.training().seed(),
            config.training().batchSize(),
            config.cluster().workers(),
            sync,
            config.optimizer().type(),
            model.params().toDoubleVector(),
            model.globalStep().state().length() == 0
                ? new double[0]
                : model.globalStep().state().toDoubleVector(),
            model.params().dataType() == DataType.DOUBLE,
            ConfigLoader.toYaml(config).getBytes(StandardCharsets.UTF_8),
            model.exchangeState() == null ? new byte[0] : model.exchangeState().toBytes());
    Path path = store.write(snapshot);
    store.retain(policy.keepLast(), policy.keepEvery());
    double seconds = (System.nanoTime() - start) / 1e9;
    int width = snapshot.doublePrecision() ? 8 : 4;
    lastBytes =
        (long) (snapshot.params().length + snapshot.optimizerState().length) * width
            + snapshot.exchangeState().length;
    written++;
    writeSeconds += seconds;
    lastWritten = state.globalStep();
    console.printf(
        Locale.ROOT,
        "spindle: checkpoint step %d written to %s (%.1f MB, %.2f s)%n",
        state.globalStep(),
        path,
        lastBytes / 1e6,
        seconds);
  }

  /** Figures for the run summary: checkpoints written, mean write seconds, array bytes. */
  public Map<String, Object> facts() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("checkpoints_written", written);
    if (written > 0) {
      out.put("checkpoint_write_seconds_mean", writeSeconds / written);
      out.put("checkpoint_array_bytes", lastBytes);
    }
    return out;
  }
}
