package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.bench.BenchMetrics.EpochPoint;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class BenchReportTest {
  /** The fields every bench.json object carries. */
  static final Set<String> FIELDS =
      Set.of(
          "system",
          "workers",
          "threads_per_worker",
          "global_batch",
          "epochs",
          "examples",
          "steps",
          "train_seconds",
          "samples_per_second",
          "ratio_to_faster_dl4j_fit",
          "test_accuracy",
          "accuracy_by_epoch",
          "target_accuracy",
          "time_to_target_seconds",
          "model_bytes",
          "bytes_sent_per_worker_per_step",
          "allreduce_bound_bytes",
          "traffic_method",
          "wall_seconds_per_step",
          "compute_seconds_per_step",
          "compute_method",
          "non_compute_seconds_per_step",
          "flops_per_example",
          "flops_formula",
          "model_flops_per_second",
          "matmul_peak_flops_per_second",
          "fraction_of_matmul_peak");

  private static SystemRun run(
      String name, int workers, int threads, double seconds, Double compute, Double bytes) {
    return new SystemRun(
        name,
        workers,
        threads,
        60_000,
        235,
        seconds,
        List.of(new EpochPoint(1, seconds / 2, 0.96), new EpochPoint(2, seconds, 0.972)),
        0.972,
        bytes,
        "test",
        compute,
        compute == null ? null : 0.05,
        "test",
        Map.of("note", "x"));
  }

  @Test
  void objectsCarryEveryFieldWithDerivedFigures() {
    SpindleConfig config = ConfigLoader.parse("", "test", List.of());
    List<SystemRun> runs =
        List.of(
            run("dl4j-fit-1t", 1, 1, 12.0, null, 0.0),
            run("dl4j-fit-2t", 1, 2, 20.0, null, 0.0),
            run("spindle-collective", 2, 1, 10.0, 0.03, 5.2e6));
    List<Map<String, Object>> objects =
        BenchReport.objects(config, 784, 0.97, 50e9, 80e9, batch -> batch * 1e-4, runs);
    assertEquals(3, objects.size());
    for (Map<String, Object> o : objects) {
      assertTrue(o.keySet().containsAll(FIELDS), "missing fields in " + o.keySet());
      assertEquals("x", o.get("note"));
    }
    Map<String, Object> fit1 = objects.get(0);
    Map<String, Object> fit2 = objects.get(1);
    Map<String, Object> coll = objects.get(2);
    assertEquals(1.0, (double) fit1.get("ratio_to_faster_dl4j_fit"), 1e-12);
    assertEquals(12.0 / 10.0, (double) coll.get("ratio_to_faster_dl4j_fit"), 1e-12);
    assertEquals(0.0, (double) fit1.get("allreduce_bound_bytes"));
    double modelBytes = (double) coll.get("model_bytes");
    assertEquals(modelBytes, (double) coll.get("allreduce_bound_bytes"), 1e-6); // N = 2
    assertEquals(5.2e6 / modelBytes, (double) coll.get("bytes_to_bound"), 1e-12);
    // time to 0.97: reached at the end of epoch 2
    assertEquals(12.0, (double) fit1.get("time_to_target_seconds"), 1e-12);
    // DL4J fit: compute derived from the one-thread step time at the worker's batch (256 / 1)
    assertEquals(256 * 1e-4, (double) fit1.get("compute_seconds_per_step"), 1e-12);
    assertEquals(12.0 / 235 - 256 * 1e-4, (double) fit1.get("non_compute_seconds_per_step"), 1e-12);
    // collective: its own counters
    assertEquals(0.05 - 0.03, (double) coll.get("non_compute_seconds_per_step"), 1e-12);
    // FLOP/s over the peak of the cores used
    double flops = 60_000 / 12.0 * BenchMetrics.flopsPerExample(784, config.model());
    assertEquals(flops / 50e9, (double) fit1.get("fraction_of_matmul_peak"), 1e-12);
    assertEquals(80e9, (double) fit2.get("matmul_peak_flops_per_second"));

    String table = BenchReport.table(objects);
    assertEquals(3 + 2, table.lines().count()); // header, three systems, legend
    assertTrue(table.lines().skip(1).findFirst().orElseThrow().startsWith("dl4j-fit-1t"));
  }

  @Test
  void timeToTargetIsNullAndRatioIsNullWithoutAFitRun() {
    SpindleConfig config = ConfigLoader.parse("", "test", List.of());
    List<Map<String, Object>> objects =
        BenchReport.objects(
            config,
            784,
            0.99,
            50e9,
            80e9,
            batch -> 0.01,
            List.of(run("dl4j-spark-shared", 2, 1, 30.0, null, 1e5)));
    assertNull(objects.get(0).get("time_to_target_seconds"));
    assertNull(objects.get(0).get("ratio_to_faster_dl4j_fit"));
    assertNotNull(objects.get(0).get("bytes_to_bound"));
  }

  @Test
  void torchRatioIsOverTheFasterOfPytorchAndDdp() {
    SpindleConfig config = ConfigLoader.parse("", "test", List.of());
    List<Map<String, Object>> objects =
        BenchReport.objects(
            config,
            784,
            0.97,
            50e9,
            80e9,
            batch -> 0.01,
            List.of(
                run("pytorch-1t", 1, 1, 5.0, 0.02, 0.0), // fastest, but the -1w reference only
                run("pytorch", 1, 1, 6.0, 0.02, 0.0),
                run("pytorch-ddp", 2, 1, 8.0, 0.01, null),
                run("spindle-collective", 2, 1, 4.0, 0.01, 5e6)));
    assertEquals(6.0 / 4.0, (double) objects.get(3).get("ratio_to_faster_pytorch"), 1e-12);
    assertEquals(1.0, (double) objects.get(1).get("ratio_to_faster_pytorch"), 1e-12);
    assertNull(objects.get(0).get("ratio_to_faster_dl4j_fit"));
  }

  @Test
  void bf16RunsCarryTheBf16PeakAndEachRowsComputePrecision() {
    SpindleConfig config = ConfigLoader.parse("", "test", List.of("model.precision=bf16"));
    Bf16Peak bf16 = new Bf16Peak(64, 400e9, 700e9, 500e9, 900e9, null);
    List<SystemRun> runs =
        List.of(
            precision(run("spindle-collective-1w", 1, 1, 5.0, 0.02, 0.0), "bf16"),
            precision(run("pytorch-ddp", 2, 1, 8.0, 0.01, null), "bf16"),
            run("dl4j-fit-1t", 1, 1, 12.0, null, 0.0));
    List<Map<String, Object>> objects =
        BenchReport.objects(config, 784, 0.97, 50e9, 80e9, bf16, batch -> 0.01, runs);
    double perExample = BenchMetrics.flopsPerExample(784, config.model());
    // one core: the 1-thread peaks; two cores: the 2-thread peaks; fp32 figure unchanged
    Map<String, Object> one = objects.get(0);
    assertEquals(400e9, (double) one.get("bf16_matmul_peak_flops_per_second"));
    assertEquals(
        60_000 / 5.0 * perExample / 400e9, (double) one.get("fraction_of_bf16_matmul_peak"), 1e-12);
    assertEquals(
        60_000 / 5.0 * perExample / 50e9, (double) one.get("fraction_of_matmul_peak"), 1e-12);
    Map<String, Object> ddp = objects.get(1);
    assertEquals(700e9, (double) ddp.get("bf16_matmul_peak_flops_per_second"));
    assertEquals(
        60_000 / 8.0 * perExample / 80e9, (double) ddp.get("fraction_of_matmul_peak"), 1e-12);
    assertEquals("bf16", ddp.get("compute_precision"));
    assertTrue(
        ((String) ddp.get("bf16_matmul_peak_method")).contains("64x64"),
        (String) ddp.get("bf16_matmul_peak_method"));

    List<String> lines = BenchReport.table(objects).lines().toList();
    assertTrue(lines.get(0).contains("prec") && lines.get(0).endsWith("% bf16pk"), lines.get(0));
    assertTrue(lines.get(1).matches("spindle-collective-1w +1x1 +bf16 .*"), lines.get(1));
    String ddpShare =
        String.format(Locale.ROOT, "%.1f", 100 * (double) ddp.get("fraction_of_bf16_matmul_peak"));
    assertTrue(lines.get(2).endsWith(" " + ddpShare), lines.get(2));
    assertTrue(lines.get(3).matches("dl4j-fit-1t +1x1 +- .*"), lines.get(3)); // not recorded
    assertTrue(lines.get(4).contains("% bf16pk: model FLOP/s over the bf16 matmul peak"));
  }

  @Test
  void float32RunsHaveNoBf16PeakColumn() {
    SpindleConfig config = ConfigLoader.parse("", "test", List.of());
    List<Map<String, Object>> objects =
        BenchReport.objects(
            config,
            784,
            0.97,
            50e9,
            80e9,
            batch -> 0.01,
            List.of(precision(run("pytorch", 1, 1, 6.0, 0.02, 0.0), "float32")));
    assertNull(objects.get(0).get("fraction_of_bf16_matmul_peak"));
    String table = BenchReport.table(objects);
    assertFalse(table.contains("bf16pk"), table);
    assertTrue(table.lines().skip(1).findFirst().orElseThrow().matches("pytorch +1x1 +float32 .*"));
  }

  private static SystemRun precision(SystemRun r, String precision) {
    return new SystemRun(
        r.system(),
        r.workers(),
        r.threadsPerWorker(),
        r.examples(),
        r.steps(),
        r.trainSeconds(),
        r.epochs(),
        r.testAccuracy(),
        r.bytesSentPerWorkerPerStep(),
        r.trafficMethod(),
        r.computeSecondsPerStep(),
        r.wallSecondsPerStep(),
        r.timeMethod(),
        Map.of("compute_precision", precision));
  }

  @Test
  void chartIsAReadablePng() throws Exception {
    List<SystemRun> runs =
        List.of(
            run("dl4j-fit-1t", 1, 1, 12.0, null, 0.0),
            run("spindle-collective", 2, 1, 9, 0.03, 1e6));
    BufferedImage img = ImageIO.read(new ByteArrayInputStream(BenchChart.png(runs, 0.97)));
    assertNotNull(img, "bench.png must decode as an image");
    assertEquals(BenchChart.WIDTH, img.getWidth());
    assertEquals(BenchChart.HEIGHT, img.getHeight());
  }
}
