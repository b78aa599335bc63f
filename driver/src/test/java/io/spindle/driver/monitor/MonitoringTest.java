package io.spindle.driver.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.driver.cli.SpindleCli;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short run in local mode: Spark jobs carry "spindle epoch E/N step S/T" descriptions, and the
 * plugin's gauges reach Spark's metrics system (read back through a CSV sink).
 */
class MonitoringTest {
  static final List<String> DESCRIPTIONS = new CopyOnWriteArrayList<>();

  /** Registered through spark.extraListeners; records every job's description. */
  public static final class JobDescriptions extends SparkListener {
    @Override
    public void onJobStart(SparkListenerJobStart jobStart) {
      String d = jobStart.properties().getProperty("spark.job.description");
      if (d != null) {
        DESCRIPTIONS.add(d);
      }
    }
  }

  @Test
  void jobsNameEpochAndStepAndGaugesReachTheMetricsSystem(@TempDir Path tmp) throws Exception {
    Path metrics = tmp.resolve("metrics");
    Files.createDirectories(metrics);
    Map<String, String> props =
        Map.of(
            "spark.extraListeners", JobDescriptions.class.getName(),
            "spark.metrics.conf.driver.sink.csv.class", "org.apache.spark.metrics.sink.CsvSink",
            "spark.metrics.conf.driver.sink.csv.period", "1",
            "spark.metrics.conf.driver.sink.csv.unit", "seconds",
            "spark.metrics.conf.driver.sink.csv.directory", metrics.toString(),
            "spark.ui.enabled", "false");
    props.forEach(System::setProperty);
    DESCRIPTIONS.clear();
    try {
      int code =
          SpindleCli.run(
              new String[] {
                "train",
                "--set",
                "data.mirror=" + TestDatasets.mirror(),
                "--set",
                "data.trainLimit=1024",
                "--set",
                "cluster.sync=gradient_sharing",
                "--set",
                "training.epochs=2",
                "--set",
                "training.batchSize=256",
                "--output",
                tmp.resolve("run").toString()
              },
              new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
              System.err);
      assertEquals(0, code);
    } finally {
      props.keySet().forEach(System::clearProperty);
    }
    // 1024 / 256 = 4 steps per epoch; gradient sharing runs one job per step.
    assertTrue(DESCRIPTIONS.contains("spindle epoch 1/2 step 1/4"), DESCRIPTIONS.toString());
    assertTrue(DESCRIPTIONS.contains("spindle epoch 2/2 step 4/4"), DESCRIPTIONS.toString());
    assertTrue(DESCRIPTIONS.contains("spindle epoch 2/2 evaluation"), DESCRIPTIONS.toString());
    assertTrue(
        DESCRIPTIONS.contains("spindle epoch 2: shuffle training data"), DESCRIPTIONS.toString());
    Path globalStep;
    try (Stream<Path> files = Files.list(metrics)) {
      globalStep =
          files
              .filter(f -> f.getFileName().toString().endsWith("SpindlePlugin.globalStep.csv"))
              .findFirst()
              .orElseThrow(
                  () -> new AssertionError("no SpindlePlugin.globalStep.csv in " + metrics));
    }
    List<String> lines = Files.readAllLines(globalStep);
    String last = lines.get(lines.size() - 1);
    assertEquals("8", last.substring(last.indexOf(',') + 1).trim(), lines.toString());
  }
}
