package io.spindle.driver.listen;

import io.spindle.driver.GlobalModel;
import io.spindle.driver.RunOutput;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingState;
import io.spindle.sync.Evaluation;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * At the end of a run, saves {@code model.zip} and then {@code summary.json}, last, so that a
 * scheduler can take the summary's presence as proof that the run finished.
 */
public final class RunSummaryWriter implements TrainingListener {
  private final RunOutput output;
  private final MetricsLog metrics;
  private final Map<String, Object> facts;
  private final java.util.function.Supplier<Map<String, Object>> lateFacts;
  private final Map<String, Object> summary = new LinkedHashMap<>();

  /**
   * @param facts fixed facts of the run (workers, sync, data set, ...) appended to the summary
   * @param lateFacts facts known only when the run ends (traffic counters), appended last
   */
  public RunSummaryWriter(
      RunOutput output,
      MetricsLog metrics,
      Map<String, Object> facts,
      java.util.function.Supplier<Map<String, Object>> lateFacts) {
    this.output = output;
    this.metrics = metrics;
    this.facts = Map.copyOf(facts);
    this.lateFacts = lateFacts;
  }

  @Override
  public void onEnd(TrainingState state, GlobalModel model, Evaluation test) {
    output.writeModel(model.network());
    summary.put("test_accuracy", test.accuracy());
    if (!Double.isNaN(test.top5Accuracy())) {
      summary.put("test_top5_accuracy", test.top5Accuracy());
    }
    summary.put("test_loss", test.meanLoss());
    summary.put("epochs", state.epoch() + 1);
    summary.put("steps", state.globalStep());
    summary.put("examples", state.examplesSeen());
    summary.put("samples_per_second", state.examplesThisRun() / metrics.trainSeconds());
    summary.put("end_to_end_samples_per_second", state.examplesThisRun() / state.wallSeconds());
    summary.put("wall_seconds", state.wallSeconds());
    summary.put("train_seconds", metrics.trainSeconds());
    summary.put("parameters", model.params().length());
    new java.util.TreeMap<>(facts).forEach(summary::put);
    lateFacts.get().forEach(summary::put);
    output.writeSummary(summary);
  }

  /** The summary written, or empty before the run ended. */
  public Map<String, Object> summary() {
    return summary;
  }
}
