package io.spindle.bench;

import io.spindle.bench.BenchMetrics.EpochPoint;
import java.util.List;
import java.util.Map;

/**
 * What one system's run measured, before the figures derived from the calibration are added.
 *
 * @param workers data-parallel workers (1 for single-process fit)
 * @param threadsPerWorker ND4J threads each worker uses
 * @param examples training examples processed
 * @param steps optimiser steps on the global batch
 * @param trainSeconds training time (see {@link #timeMethod})
 * @param epochs test accuracy after each epoch, with cumulative training seconds
 * @param testAccuracy final test accuracy
 * @param bytesSentPerWorkerPerStep traffic per worker per step, or null when not measured
 * @param trafficMethod how the traffic was counted
 * @param computeSecondsPerStep the system's own compute time per step, or null when it has no
 *     counter (the report then derives it from the single-process calibration)
 * @param wallSecondsPerStep the system's own wall time per step, or null (then trainSeconds/steps)
 * @param timeMethod what trainSeconds covers
 * @param extra further system-specific facts, copied into bench.json
 */
public record SystemRun(
    String system,
    int workers,
    int threadsPerWorker,
    long examples,
    long steps,
    double trainSeconds,
    List<EpochPoint> epochs,
    double testAccuracy,
    Double bytesSentPerWorkerPerStep,
    String trafficMethod,
    Double computeSecondsPerStep,
    Double wallSecondsPerStep,
    String timeMethod,
    Map<String, Object> extra) {
  public SystemRun {
    epochs = List.copyOf(epochs);
    extra = Map.copyOf(extra);
  }

  public double samplesPerSecond() {
    return examples / trainSeconds;
  }

  /** Cores the system keeps busy: workers x threads per worker. */
  public int cores() {
    return workers * threadsPerWorker;
  }
}
