package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.bench.ScalingModel.Compression;
import io.spindle.bench.ScalingModel.Costs;
import io.spindle.bench.ScalingModel.Link;
import io.spindle.bench.ScalingModel.MeasuredStep;
import io.spindle.bench.ScalingModel.Prediction;
import io.spindle.compress.GradientLayout;
import io.spindle.compress.GradientLayout.Tensor;
import io.spindle.compress.PowerSgdCodec;
import io.spindle.compress.TopKCodec;
import io.spindle.config.WireFormat;
import io.spindle.worker.collective.TcpRing;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The scaling model: its byte counts are what the engine's ring counts, its terms behave as the
 * ring formulas say, it reproduces the ring times measured on the test bed, and a calibration from
 * a measured run gives back that run.
 */
class ScalingModelTest {
  /** The default MNIST MLP, 784-800-800-10 (DL4J's parameter order: W, b per layer). */
  static final GradientLayout MLP =
      GradientLayout.of(
          List.of(
              new Tensor("0_W", 0, 800, 784),
              new Tensor("0_b", 627_200, 1, 800),
              new Tensor("1_W", 628_000, 800, 800),
              new Tensor("1_b", 1_268_000, 1, 800),
              new Tensor("2_W", 1_268_800, 10, 800),
              new Tensor("2_b", 1_276_800, 1, 10)));

  private static final Costs COSTS =
      new Costs(0, 170e-6, 1.2e-9, 2e-3, Double.POSITIVE_INFINITY, Map.of(), Map.of(), 0);

  @Test
  void ringBytesAreWhatTcpRingCountsForEveryScheme() throws Exception {
    for (int ranks = 2; ranks <= 4; ranks++) {
      assertEquals(
          RingCost.allReduceBytes(MLP.length(), ranks, 4),
          ringBytes(ranks, WireFormat.FP32, MLP.length(), false),
          1e-6,
          "fp32 all-reduce, N=" + ranks);
      assertEquals(
          RingCost.allReduceBytes(MLP.length(), ranks, 2),
          ringBytes(ranks, WireFormat.BF16, MLP.length(), false),
          1e-6,
          "bf16 all-reduce, N=" + ranks);
      PowerSgdCodec p = new PowerSgdCodec(MLP, 4, 0);
      assertEquals(
          RingCost.allReduceBytes(p.firstLength(), ranks, 4)
              + RingCost.allReduceBytes(p.secondLength(), ranks, 4),
          ringBytes(ranks, WireFormat.FP32, p.firstLength(), false)
              + ringBytes(ranks, WireFormat.FP32, p.secondLength(), false),
          1e-6,
          "PowerSGD's two all-reduces, N=" + ranks);
      int wire = new TopKCodec(MLP, 0.01).wireLength();
      assertEquals(
          RingCost.allGatherBytes(wire, ranks, 4),
          ringBytes(ranks, WireFormat.FP32, wire * ranks, true),
          1e-6,
          "top-k's all-gather, N=" + ranks);
    }
  }

  @Test
  void termsFollowTheRingFormulas() {
    ScalingModel m = new ScalingModel(MLP, 60_000, COSTS, false);
    Compression none = Compression.parse("none");
    Compression psgd = Compression.parse("powersgd:4");
    Compression topk = Compression.parse("topk:0.01");
    assertEquals(0, m.bytesPerWorkerPerStep(none, 1));
    assertEquals(0, m.predict(none, 1, 256, new Link(1e9, 1, 1e-3)).commSeconds());
    for (int n : new int[] {2, 3, 8, 512}) {
      // latency only: 2(N-1) phases of an all-reduce, 4(N-1) for PowerSGD, N-1 for an all-gather
      Link slowStart = new Link(1e30, 1, 1e-3);
      assertEquals(2e-3 * (n - 1), m.predict(none, n, 1024, slowStart).commSeconds(), 1e-9);
      assertEquals(4e-3 * (n - 1), m.predict(psgd, n, 1024, slowStart).commSeconds(), 1e-9);
      assertEquals(1e-3 * (n - 1), m.predict(topk, n, 1024, slowStart).commSeconds(), 1e-9);
      // bandwidth only: 2(N-1)/N x 4 bytes per parameter, plus headers of 40 bytes per block
      double bound = 2.0 * (n - 1) / n * 4 * MLP.length();
      double bytes = m.bytesPerWorkerPerStep(none, n);
      assertTrue(bytes > bound && bytes < 1.02 * bound, "N=" + n + ": " + bytes + " vs " + bound);
      Link wide = new Link(8e9, 1, 0);
      assertEquals(bytes / 1e9, m.predict(none, n, 1024, wide).commSeconds(), 1e-12);
      // top-k's all-gather grows with N: (N-1) x 8k bytes
      double k = new TopKCodec(MLP, 0.01).k();
      assertEquals((n - 1) * (8 * k + 40), m.bytesPerWorkerPerStep(topk, n), 1e-6);
    }
    // strong scaling: the same global batch over more workers computes less per worker
    Link link = new Link(1e9, 0.956, 70e-6);
    Prediction two = m.predict(none, 2, 256, link);
    Prediction four = m.predict(none, 4, 256, link);
    assertTrue(four.computeSeconds() < two.computeSeconds());
    assertEquals(256 / two.stepSeconds(), two.samplesPerSecond(), 1e-9);
    // compressed schemes keep a replicated optimiser: no parameter all-gather, optimiser over n
    assertEquals(
        COSTS.optimizerSecondsPerValue() * MLP.length(),
        m.predict(psgd, 2, 256, link).computeSeconds() - 170e-6 * 128,
        1e-12);
    ScalingModel sharded = new ScalingModel(MLP, 60_000, COSTS, true);
    assertEquals(
        m.bytesPerWorkerPerStep(psgd, 4) + RingCost.halfAllReduceBytes(MLP.length(), 4, 4),
        sharded.bytesPerWorkerPerStep(psgd, 4),
        1e-6);
    assertThrows(IllegalArgumentException.class, () -> m.predict(none, 512, 256, link));
    // on one machine with 2 cores, 4 workers compute at half speed
    Costs bed = new Costs(0, 170e-6, 1.2e-9, 2e-3, Double.POSITIVE_INFINITY, Map.of(), Map.of(), 2);
    ScalingModel onTwoCores = new ScalingModel(MLP, 60_000, bed, false);
    assertEquals(
        2 * m.predict(none, 4, 256, link).computeSeconds(),
        onTwoCores.predict(none, 4, 256, link).computeSeconds(),
        1e-12);
    assertEquals(
        m.predict(none, 2, 256, link).computeSeconds(),
        onTwoCores.predict(none, 2, 256, link).computeSeconds(),
        1e-12);
  }

  /**
   * The ring all-reduce of the default MLP's gradient measured on the test bed at 100 Mbit/s
   * (NetworkBedIT, 2026-12-06: medians of 5, TcpRing in one network namespace per rank, load
   * average ~6): 0.432 s at N = 2, 0.575 s at N = 3, 0.650 s at N = 4; a one-value all-reduce took
   * 150 us (2 phases) and 268 us (4 phases). The model with that link (95.6% goodput) and 70 us per
   * phase predicts each within 5%.
   */
  @Test
  void reproducesTheRingTimesMeasuredOnTheTestBed() {
    ScalingModel m = new ScalingModel(MLP, 60_000, COSTS, false);
    Link bed = new Link(100e6, 0.956, 70e-6);
    double[] measured = {0.432, 0.575, 0.650};
    for (int n = 2; n <= 4; n++) {
      double predicted = m.predict(Compression.parse("none"), n, 256, bed).commSeconds();
      assertEquals(measured[n - 2], predicted, 0.05 * measured[n - 2], "N=" + n);
    }
  }

  /**
   * A collective run across the bed at 1 Gbit/s (CollectiveOverNetworkBedIT, 2026-12-06): 2
   * workers, batch 256, 74.7 ms compute, 62.6 ms in the ring, 151.9 ms per step, 5,108,040 bytes
   * per worker per step. Calibrated on it, the model gives back its step time; a run whose counted
   * bytes the ring model does not reproduce is refused.
   */
  @Test
  void calibrationFromARunGivesBackThatRun() {
    MeasuredStep run = new MeasuredStep(0.0747, 0.0626, 0.1519, 5_108_040);
    Compression none = Compression.parse("none");
    Costs calibrated = ScalingModel.calibrate(MLP, none, 2, 256, run, COSTS, false);
    Link gigabit = new Link(1e9, 0.96, 70e-6);
    double latency = ScalingModel.effectiveLatency(MLP, none, 2, run, gigabit, calibrated);
    Link effective = new Link(1e9, 0.96, latency);
    Prediction p =
        new ScalingModel(MLP, 60_000, calibrated, false).predict(none, 2, 256, effective);
    assertEquals(0.1519, p.stepSeconds(), 1e-6);
    assertEquals(0.0747, p.computeSeconds(), 1e-6);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                ScalingModel.calibrate(
                    MLP,
                    none,
                    2,
                    256,
                    new MeasuredStep(0.07, 0.06, 0.15, 4_000_000),
                    COSTS,
                    false));
    assertTrue(e.getMessage().contains("it does not describe this run"), e.getMessage());
  }

  @Test
  void compressionSchemesParseAndRefuseNonsense() {
    assertEquals("powersgd:2", Compression.parse("PowerSGD:2").toString());
    assertEquals("topk:0.001", Compression.parse("topk:0.001").toString());
    assertEquals("powersgd:4", Compression.parse("powersgd").toString());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Compression.parse("zip"));
    assertTrue(e.getMessage().contains("got 'zip'"), e.getMessage());
  }

  /**
   * Mean bytes per rank that TcpRing counts for one all-reduce of {@code n} values (or, with {@code
   * gatherOnly}, one all-gather), ranks connected over 127.0.0.1 in threads.
   */
  private static double ringBytes(int ranks, WireFormat wire, int n, boolean gatherOnly)
      throws Exception {
    byte[] secret = "scaling-model-test".getBytes(StandardCharsets.UTF_8);
    List<TcpRing> rings = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(ranks);
    try {
      for (int r = 0; r < ranks; r++) {
        rings.add(TcpRing.bind("127.0.0.1", r, ranks, wire, 7L, 30_000));
      }
      List<String> endpoints = rings.stream().map(TcpRing::endpoint).toList();
      List<Future<Long>> sent = new ArrayList<>();
      for (TcpRing ring : rings) {
        sent.add(
            pool.submit(
                () -> {
                  ring.connect(endpoints, secret, 1L);
                  float[] data = new float[n];
                  int[] bounds = TcpRing.bounds(n, ranks);
                  if (gatherOnly) {
                    ring.allGather(data, bounds, 0);
                  } else {
                    ring.allReduce(data, bounds, 0);
                  }
                  return ring.bytesSent();
                }));
      }
      long total = 0;
      for (Future<Long> f : sent) {
        total += f.get(60, TimeUnit.SECONDS);
      }
      return (double) total / ranks;
    } finally {
      rings.forEach(TcpRing::close);
      pool.shutdownNow();
    }
  }
}
