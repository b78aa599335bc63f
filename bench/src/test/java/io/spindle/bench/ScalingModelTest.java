package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.bench.ScalingModel.Compression;
import io.spindle.bench.ScalingModel.Costs;
import io.spindle.bench.ScalingModel.Hosts;
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
      new Costs(
          0, 170e-6, 1.2e-9, 2e-3, Double.POSITIVE_INFINITY, Map.of(), Map.of(), Hosts.CLUSTER);

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
    Costs bed =
        new Costs(
            0,
            170e-6,
            1.2e-9,
            2e-3,
            Double.POSITIVE_INFINITY,
            Map.of(),
            Map.of(),
            Hosts.oneHost(2, 0, 0));
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
   * The CPU term: compute and codec stretch by W / C (and the measured slowdown) when a host's
   * workers outnumber its cores, the ring's CPU by max(1, 2 W / C), and the ring takes the slower
   * of its link and its CPU; a cluster (one worker per host) stretches nothing.
   */
  @Test
  void cpuTermStretchesComputeAndTheRingWhenWorkersOutnumberCores() {
    Hosts bed = Hosts.oneHost(2, 0.25, 1e-3);
    assertEquals(1, bed.computeStretch(1));
    // two workers fill the two cores: the host's other work now takes from them
    assertEquals(1.25, bed.computeStretch(2), 1e-12);
    assertEquals(1.5 * 1.25, bed.computeStretch(3), 1e-12);
    assertEquals(2 * 1.25, bed.computeStretch(4), 1e-12);
    assertEquals(1, bed.ringStretch(1));
    assertEquals(2, bed.ringStretch(2));
    assertEquals(4, bed.ringStretch(4));
    // a phase waits for time-sliced peers once the workers fill the cores, by the stretch
    assertEquals(70e-6, bed.phaseLatency(1, 70e-6), 1e-15);
    assertEquals(70e-6 + 1e-3 * 1.25, bed.phaseLatency(2, 70e-6), 1e-15);
    assertEquals(70e-6 + 1e-3 * 2.5, bed.phaseLatency(4, 70e-6), 1e-15);
    assertEquals(70e-6, new Hosts(4, 2, 0.5, 1e-3).phaseLatency(64, 70e-6), 1e-15);
    assertEquals(1, bed.hosts(4));
    assertEquals(2, bed.totalCores(4));
    for (int n : new int[] {2, 8, 512}) {
      assertEquals(1, Hosts.CLUSTER.computeStretch(n));
      assertEquals(1, Hosts.CLUSTER.ringStretch(n));
      assertEquals(n, Hosts.CLUSTER.hosts(n));
    }
    // four workers on each host of two cores: 10 workers take 3 hosts, 6 cores
    Hosts packed = new Hosts(2, 4, 0, 0);
    assertEquals(3, packed.hosts(10));
    assertEquals(6, packed.totalCores(10));
    assertEquals(2, packed.computeStretch(10));
    assertEquals(4, packed.ringStretch(10));
    // two workers on each host of four cores: nothing shared
    assertEquals(1, new Hosts(4, 2, 0.5, 1e-3).computeStretch(64));
    assertEquals(1, new Hosts(4, 2, 0.5, 1e-3).ringStretch(64));

    double ringCpu = 1e9;
    Costs onBed =
        new Costs(1e-3, 170e-6, 1.2e-9, 0, ringCpu, Map.of("powersgd:2", 6e-3), Map.of(), bed);
    Costs onCluster =
        new Costs(
            1e-3, 170e-6, 1.2e-9, 0, ringCpu, Map.of("powersgd:2", 6e-3), Map.of(), Hosts.CLUSTER);
    ScalingModel b = new ScalingModel(MLP, 60_000, onBed, false);
    ScalingModel c = new ScalingModel(MLP, 60_000, onCluster, false);
    Compression none = Compression.parse("none");
    Compression psgd = Compression.parse("powersgd:2");
    Link slow = new Link(100e6, 0.956, 70e-6);
    Link fast = new Link(10e9, 0.956, 70e-6);
    for (int n = 2; n <= 4; n++) {
      Prediction pb = b.predict(psgd, n, 256, slow);
      Prediction pc = c.predict(psgd, n, 256, slow);
      assertEquals(bed.computeStretch(n) * pc.computeSeconds(), pb.computeSeconds(), 1e-12);
      assertEquals(bed.computeStretch(n) * 6e-3, pb.codecSeconds(), 1e-12);
      assertEquals(bed.computeStretch(n), pb.computeStretch(), 1e-12);
      double bytes = b.bytesPerWorkerPerStep(none, n);
      double latency = b.phasesPerStep(none, n) * bed.phaseLatency(n, 70e-6);
      // 100 Mbit/s: the link is slower than the ring's CPU even on shared cores
      assertEquals(
          latency + bytes / slow.payloadBytesPerSecond(),
          b.predict(none, n, 256, slow).commSeconds(),
          1e-12);
      // 10 Gbit/s: the ring's CPU on its share of 2 cores is slower than the link
      assertEquals(
          latency + bytes / ringCpu * bed.ringStretch(n),
          b.predict(none, n, 256, fast).commSeconds(),
          1e-12);
      assertTrue(bytes / ringCpu * bed.ringStretch(n) > bytes / fast.payloadBytesPerSecond());
      // a cluster's worker has cores of its own (no stretch): the slower of its link (1.2 GB/s)
      // and its ring's CPU (1 GB/s)
      assertEquals(
          b.phasesPerStep(none, n) * 70e-6
              + Math.max(bytes / fast.payloadBytesPerSecond(), bytes / ringCpu),
          c.predict(none, n, 256, fast).commSeconds(),
          1e-12);
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> new Costs(0, 1e-4, 0, 0, 0, Map.of(), Map.of(), Hosts.CLUSTER));
    assertThrows(IllegalArgumentException.class, () -> new Hosts(-1, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new Hosts(2, 0, -1, 0));
    assertThrows(IllegalArgumentException.class, () -> new Hosts(2, 0, 0, -1e-6));
  }

  /**
   * A scheme with a shared-host slowdown of its own stretches its compute, codec and phase wait by
   * it, the others by the shared one; on a cluster (nothing shared) no slowdown applies.
   */
  @Test
  void eachSchemeStretchesByItsOwnSlowdown() {
    Hosts shared = Hosts.oneHost(2, 0.45, 1e-3);
    Hosts perScheme = shared.withSchemeSlowdowns(Map.of("powersgd:2", 0.28));
    Compression none = Compression.parse("none");
    Compression psgd = Compression.parse("powersgd:2");
    Compression topk = Compression.parse("topk:0.01");
    assertEquals(2 * 1.28, perScheme.computeStretch(4, psgd), 1e-12);
    assertEquals(2 * 1.45, perScheme.computeStretch(4, none), 1e-12);
    assertEquals(2 * 1.45, perScheme.computeStretch(4, topk), 1e-12, "no figure of its own");
    assertEquals(1.5 * 1.28, perScheme.computeStretch(3, psgd), 1e-12);
    assertEquals(1, perScheme.computeStretch(1, psgd));
    assertEquals(70e-6 + 1e-3 * 2 * 1.28, perScheme.phaseLatency(4, 70e-6, psgd), 1e-15);
    assertEquals(70e-6 + 1e-3 * 2 * 1.45, perScheme.phaseLatency(4, 70e-6, none), 1e-15);
    for (int n : new int[] {8, 512}) {
      assertEquals(
          1, Hosts.CLUSTER.withSchemeSlowdowns(Map.of("powersgd:2", 0.28)).computeStretch(n, psgd));
    }
    Map<String, Double> codec = Map.of("powersgd:2", 6e-3);
    ScalingModel one =
        new ScalingModel(
            MLP, 60_000, new Costs(1e-3, 170e-6, 1.2e-9, 0, 1e9, codec, Map.of(), shared), false);
    ScalingModel each =
        new ScalingModel(
            MLP,
            60_000,
            new Costs(1e-3, 170e-6, 1.2e-9, 0, 1e9, codec, Map.of(), perScheme),
            false);
    Link slow = new Link(100e6, 0.956, 70e-6);
    for (int n = 2; n <= 4; n++) {
      Prediction a = one.predict(psgd, n, 256, slow);
      Prediction b = each.predict(psgd, n, 256, slow);
      assertEquals(a.computeSeconds() * 1.28 / 1.45, b.computeSeconds(), 1e-12);
      assertEquals(a.codecSeconds() * 1.28 / 1.45, b.codecSeconds(), 1e-12);
      assertEquals(
          a.commSeconds() - b.phases() * 1e-3 * n / 2.0 * (1.45 - 1.28), b.commSeconds(), 1e-12);
      assertTrue(b.samplesPerSecond() > a.samplesPerSecond());
      // none has no figure of its own: the same prediction in both
      assertEquals(
          one.predict(none, n, 256, slow).samplesPerSecond(),
          each.predict(none, n, 256, slow).samplesPerSecond(),
          0);
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> shared.withSchemeSlowdowns(Map.of("powersgd:2", -1.0)));
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
