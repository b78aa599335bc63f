package io.spindle.bench;

import static io.spindle.bench.BedValidation.Slowdown.PER_SCHEME;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.bench.ScalingModel.Compression;
import io.spindle.compress.GradientLayout;
import io.spindle.compress.GradientLayout.Tensor;
import io.spindle.compress.PowerSgdCodec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The network bench's reading of runs (time to target, the table against none), its command line,
 * and the scaling model's check against runs (a bed that behaves exactly as the model says is
 * predicted exactly; one that does not is reported with its error).
 */
class NetBenchTest {
  @Test
  void timeToTargetIsTheFirstEpochThatReachesIt(@TempDir Path tmp) throws Exception {
    Path metrics = tmp.resolve("metrics.jsonl");
    Files.writeString(
        metrics,
        String.join(
            "\n",
            "{\"type\":\"step\",\"global_step\":20,\"wall_seconds\":1.0}",
            "{\"type\":\"epoch\",\"epoch\":1,\"test_accuracy\":0.9712,\"wall_seconds\":30.5}",
            "{\"type\":\"epoch\",\"epoch\":2,\"test_accuracy\":0.9801,\"wall_seconds\":61.25}",
            "{\"type\":\"epoch\",\"epoch\":3,\"test_accuracy\":0.9790,\"wall_seconds\":90.0}"));
    assertEquals(61.25, NetBench.secondsToTarget(metrics, 0.98));
    assertNull(NetBench.secondsToTarget(metrics, 0.99));
    assertNull(NetBench.secondsToTarget(tmp.resolve("absent.jsonl"), 0.98));
  }

  @Test
  void theTableComparesEachSchemeWithNoneOfTheSameLinkAndWorkers() {
    List<NetBench.Row> rows =
        List.of(
            new NetBench.Row(
                "100mbit",
                2,
                "none",
                true,
                1880,
                5108040,
                0.5,
                0.02,
                0.45,
                0,
                512,
                600.0,
                0.9816,
                "1.0 -> 1.2"),
            new NetBench.Row(
                "100mbit",
                2,
                "powersgd:2",
                false,
                1880,
                38552,
                0.05,
                0.02,
                0.005,
                0.006,
                5120,
                null,
                0.9800,
                "1.2 -> 1.1"));
    String table = NetBench.table(rows, 0.98);
    assertTrue(table.contains("| 100mbit | 2 | powersgd:2 | replicated | 38,552 |"), table);
    assertTrue(table.contains("| 10.00x | not reached | 0.9800 | -0.16 |"), table);
    assertTrue(table.contains("| 1.00x | 600 | 0.9816 | +0.00 |"), table);
  }

  @Test
  void theNetworkBenchRefusesTheSingleMachineOptionsAndHasItsOwnHelp() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        BenchCli.run(
            new String[] {"bench", "--network", "100mbit", "--systems", "dl4j-fit-1t"},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(2, code, err.toString(StandardCharsets.UTF_8));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("--systems belongs to"));
    code =
        BenchCli.run(
            new String[] {"bench", "--network", "100mbit", "--help"},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(0, code);
    assertTrue(out.toString(StandardCharsets.UTF_8).contains("Usage: spindle bench --network"));
  }

  static final GradientLayout MLP =
      GradientLayout.of(
          List.of(
              new Tensor("W1", 0, 800, 784),
              new Tensor("b1", 627200, 1, 800),
              new Tensor("W2", 628000, 800, 800),
              new Tensor("b2", 1268000, 1, 800),
              new Tensor("W3", 1268800, 10, 800),
              new Tensor("b3", 1276800, 1, 10)));

  /** The bed the synthetic runs follow: the parameters a calibration must find again. */
  static final double PER_EXAMPLE = 84e-6;

  static final double OPTIMIZER = 3.8e-9;
  static final double COPIES = 1.45e-3;
  static final double SLOWDOWN = 0.2;

  /** PowerSGD's own shared-host slowdown: its ring moves kilobytes beside the compute, not MB. */
  static final double SLOWDOWN_POWERSGD = 0.1;

  static final double RING_CPU = 1.5e9;
  static final double ROUND_FIXED = 0.5;
  static final double ROUND_EXECUTOR = 1.0;
  static final double ROUND_LINK = 1.0;
  static final double CODEC = 0.006;
  static final double PHASE_WAIT = 0.8e-3;
  static final double LATENCY = 70e-6;
  static final double GOODPUT = 0.956;
  static final BedValidation.Profile PROFILE = new BedValidation.Profile(OPTIMIZER, COPIES);

  /**
   * One run of a bed that behaves exactly as docs/network.md section 6 writes the model, the
   * formula spelled out here again (N workers on 2 cores, 235 steps, batch 256); {@code offBy}
   * scales its samples/s.
   */
  static BedValidation.Run synthetic(String rate, int n, String scheme, double offBy) {
    ScalingModel shape =
        new ScalingModel(
            MLP,
            1,
            new ScalingModel.Costs(
                0,
                0,
                0,
                0,
                Double.POSITIVE_INFINITY,
                java.util.Map.of(),
                java.util.Map.of(),
                ScalingModel.Hosts.CLUSTER),
            false);
    Compression c = Compression.parse(scheme);
    boolean none = scheme.equals("none");
    double bits = ScalingCli.bits(rate);
    double payload = bits * GOODPUT / 8;
    double s = n >= 2 ? n / 2.0 * (1 + (none ? SLOWDOWN : SLOWDOWN_POWERSGD)) : 1;
    long params = MLP.length();
    double compute =
        s * (COPIES + PER_EXAMPLE * 256 / n + OPTIMIZER * (none ? (double) params / n : params));
    double codec = none ? 0 : s * CODEC;
    double bytes = shape.bytesPerWorkerPerStep(c, n);
    double ring =
        n == 1
            ? 0
            : shape.phasesPerStep(c, n) * (LATENCY + PHASE_WAIT * s)
                + Math.max(bytes / payload, bytes / RING_CPU * Math.max(1, 2.0 * n / 2));
    double exchange = 4.0 * (params + (none ? 0 : new PowerSgdCodec(MLP, 2, 0).secondLength()));
    double result = 4.0 * params * 3 + (none ? 0 : n * exchange);
    double hop = none ? 4.0 * params * 2 * (n - 1) / n : exchange * (n - 1);
    double round = ROUND_FIXED + ROUND_EXECUTOR * n / 2 + ROUND_LINK * (result + hop) / payload;
    double wall = compute + codec + ring + round / 235;
    return new BedValidation.Run(
        rate, bits, n, c, 235, 256, compute, ring, codec, wall, 256 / wall * offBy, bytes);
  }

  static List<BedValidation.Run> calibrationRuns() {
    return List.of(
        synthetic("100mbit", 1, "none", 1),
        synthetic("1gbit", 1, "none", 1),
        synthetic("1gbit", 1, "powersgd:2", 1),
        synthetic("10gbit", 2, "none", 1),
        synthetic("10gbit", 2, "powersgd:2", 1));
  }

  static List<BedValidation.Run> validationRuns(double offByAtFour) {
    List<BedValidation.Run> runs = new ArrayList<>();
    for (String rate : List.of("100mbit", "1gbit")) {
      for (int n = 2; n <= 4; n++) {
        for (String s : List.of("none", "powersgd:2")) {
          runs.add(synthetic(rate, n, s, n == 4 ? offByAtFour : 1));
        }
      }
    }
    return runs;
  }

  @Test
  void calibrationFindsTheBedsParametersFromRunsItDoesNotCheck() {
    BedValidation.Calibration cal = calibratePerScheme(calibrationRuns());
    assertEquals(PER_EXAMPLE, cal.costs().secondsPerExample(), 1e-12);
    assertEquals(RING_CPU, cal.costs().ringCpuBytesPerSecond(), 1e-3);
    assertEquals(ROUND_FIXED, cal.roundFixedSeconds(), 1e-9);
    assertEquals(ROUND_EXECUTOR, cal.roundExecutorCpuSeconds(), 1e-9);
    assertEquals(SLOWDOWN, cal.costs().hosts().sharedHostSlowdown(), 1e-9);
    assertEquals(
        SLOWDOWN_POWERSGD, cal.costs().hosts().slowdown(Compression.parse("powersgd:2")), 1e-9);
    assertEquals(SLOWDOWN, cal.costs().hosts().slowdown(Compression.parse("none")), 1e-9);
    assertEquals(PHASE_WAIT, cal.costs().hosts().phaseWaitSeconds(), 1e-9);
    assertEquals(ROUND_LINK, cal.roundLinkFactor(), 1e-9);
    assertEquals(CODEC, cal.costs().codecSeconds().get("powersgd:2"), 1e-12);
    assertEquals(2, cal.cores());
    // a two-worker ring run its link limited cannot give the ring's CPU
    List<BedValidation.Run> linkBound =
        List.of(
            synthetic("100mbit", 1, "none", 1),
            synthetic("1gbit", 1, "none", 1),
            synthetic("100mbit", 2, "none", 1));
    IllegalArgumentException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class, () -> calibratePerScheme(linkBound));
    assertTrue(e.getMessage().contains("its link, not its CPU"), e.getMessage());
  }

  @Test
  void aBedThatBehavesAsTheModelSaysIsPredictedExactly() {
    BedValidation.Calibration cal = calibratePerScheme(calibrationRuns());
    List<BedValidation.Check> checks =
        BedValidation.check(validationRuns(1), cal, MLP, 2, LATENCY, GOODPUT);
    assertEquals(12, checks.size());
    for (BedValidation.Check c : checks) {
      assertEquals(0, c.error(), 1e-9, c.toString());
    }
    // without the CPU term's slowdown, phase wait and ring CPU the same bed is over-predicted
    // where they weigh: powersgd at N = 4
    BedValidation.Calibration free =
        new BedValidation.Calibration(
            new ScalingModel.Costs(
                COPIES,
                PER_EXAMPLE,
                OPTIMIZER,
                0,
                Double.POSITIVE_INFINITY,
                java.util.Map.of("powersgd:2", CODEC),
                java.util.Map.of(),
                ScalingModel.Hosts.oneHost(2, 0, 0)),
            ROUND_FIXED,
            ROUND_EXECUTOR,
            ROUND_LINK,
            2);
    for (BedValidation.Check c :
        BedValidation.check(validationRuns(1), free, MLP, 2, LATENCY, GOODPUT)) {
      if (c.workers() == 4 && c.scheme().equals("powersgd:2")) {
        assertTrue(c.error() > 0.05, c.toString());
      }
    }
  }

  /**
   * The same bed, calibrated with one slowdown for every scheme ({@code none}'s, the model before
   * session 5): powersgd, whose own slowdown is smaller, is under-predicted at every N and rate;
   * {@code none} stays within 2% (only the phase wait, solved with the other scheme's stretch,
   * moves it).
   */
  @Test
  void oneSharedSlowdownUnderPredictsASchemeThatSlowsLess() {
    BedValidation.Calibration shared =
        BedValidation.calibrate(
            calibrationRuns(),
            MLP,
            2,
            LATENCY,
            GOODPUT,
            2,
            PROFILE,
            java.util.Map.of(),
            BedValidation.Slowdown.SHARED);
    assertTrue(shared.costs().hosts().schemeSlowdowns().isEmpty());
    assertEquals(SLOWDOWN, shared.costs().hosts().slowdown(Compression.parse("powersgd:2")), 1e-9);
    List<BedValidation.Check> checks =
        BedValidation.check(validationRuns(1), shared, MLP, 2, LATENCY, GOODPUT);
    assertEquals(12, checks.size());
    for (BedValidation.Check c : checks) {
      if (c.scheme().equals("none")) {
        // the phase wait, solved with none's stretch, is a little short for none's own phases
        assertTrue(c.error() > -1e-9 && c.error() < 0.02, c.toString());
      } else {
        assertTrue(c.error() < -0.01, c.toString());
      }
    }
    String lines =
        BedValidation.slowdowns(
            shared,
            List.of(Compression.parse("none"), Compression.parse("powersgd:2")),
            BedValidation.Slowdown.SHARED);
    assertTrue(lines.contains("powersgd:2: 0.200 (none's: --slowdown shared)"), lines);
  }

  /**
   * A scheme without its own two-worker calibration run has {@code none}'s slowdown, and the output
   * says so; one with a run has its own.
   */
  @Test
  void aSchemeWithoutItsOwnTwoWorkerRunFallsBackToNones() {
    List<BedValidation.Run> withoutPowerSgdPair =
        calibrationRuns().stream()
            .filter(r -> !(r.workers() == 2 && r.scheme().kind() == ScalingModel.Kind.POWERSGD))
            .toList();
    assertEquals(calibrationRuns().size() - 1, withoutPowerSgdPair.size());
    BedValidation.Calibration fallback = calibratePerScheme(withoutPowerSgdPair);
    Compression psgd = Compression.parse("powersgd:2");
    Compression topk = Compression.parse("topk:0.01");
    assertEquals(SLOWDOWN, fallback.costs().hosts().slowdown(psgd), 1e-9);
    String lines =
        BedValidation.slowdowns(fallback, List.of(Compression.parse("none"), psgd), PER_SCHEME);
    assertTrue(
        lines.contains("powersgd:2: 0.200 (none's: no two-worker calibration run of powersgd:2)"),
        lines);
    BedValidation.Calibration own = calibratePerScheme(calibrationRuns());
    assertEquals(SLOWDOWN_POWERSGD, own.costs().hosts().slowdown(psgd), 1e-9);
    assertEquals(SLOWDOWN, own.costs().hosts().slowdown(topk), 1e-9);
    lines = BedValidation.slowdowns(own, List.of(psgd, topk), PER_SCHEME);
    assertTrue(lines.contains("powersgd:2: 0.100 (its own two-worker calibration run)"), lines);
    assertTrue(
        lines.contains("topk:0.01: 0.200 (none's: no two-worker calibration run of topk:0.01)"),
        lines);
  }

  @Test
  void aRunTheModelMissesShowsItsError() {
    BedValidation.Calibration cal = calibratePerScheme(calibrationRuns());
    List<BedValidation.Check> checks =
        BedValidation.check(validationRuns(1.25), cal, MLP, 2, LATENCY, GOODPUT);
    for (BedValidation.Check c : checks) {
      // measured 25% above the model at N = 4: predicted / measured - 1 = -20%
      assertEquals(c.workers() == 4 ? 1 / 1.25 - 1 : 0, c.error(), 1e-9, c.toString());
    }
    assertTrue(BedValidation.table(checks).contains("| -20.0% |"));
  }

  @Test
  void repeatedRunsAreCheckedOnEachPointsMedian() {
    BedValidation.Calibration cal = calibratePerScheme(calibrationRuns());
    // three repetitions: N = 4 measured 25% above, exactly at, and 40% above the model; the
    // others exactly at it, then 10% below, then exactly at it again
    List<BedValidation.Run> repeated = new java.util.ArrayList<>();
    double[][] offBy = {{1.25, 1}, {1, 0.9}, {1.4, 1}};
    for (double[] rep : offBy) {
      for (BedValidation.Run r : validationRuns(rep[0])) {
        repeated.add(r.workers() == 4 ? r : scaled(r, rep[1]));
      }
    }
    List<BedValidation.Run> medians = BedValidation.medians(repeated);
    assertEquals(12, medians.size());
    List<BedValidation.Check> checks = BedValidation.check(medians, cal, MLP, 2, LATENCY, GOODPUT);
    for (BedValidation.Check c : checks) {
      // N = 4: the median of 1.25, 1 and 1.4 is 1.25; the rest: the median of 1, 0.9 and 1 is 1
      assertEquals(c.workers() == 4 ? 1 / 1.25 - 1 : 0, c.error(), 1e-9, c.toString());
    }
    String table = BedValidation.repetitions(repeated);
    assertTrue(table.contains("| 3 |"), table);
    assertTrue(table.contains("| 40.0% |"), table); // N = 4: 1.4 / 1 - 1
    // an even number of repetitions takes the lower middle run
    List<BedValidation.Run> two = List.of(scaled(medians.get(0), 1.1), medians.get(0));
    assertEquals(
        medians.get(0).samplesPerSecond(), BedValidation.medians(two).get(0).samplesPerSecond(), 0);
  }

  /**
   * {@code ScalingCli --validate} end to end on the synthetic bed written as bench directories: the
   * per-scheme slowdown ({@code --slowdown per-scheme}) predicts every run exactly and says where
   * each slowdown comes from; the default, {@code none}'s slowdown for all, misses powersgd.
   */
  @Test
  void validateReadsEachSchemesSlowdownFromItsOwnCalibrationRun(@TempDir Path tmp)
      throws Exception {
    Path calibration = tmp.resolve("cal");
    for (BedValidation.Run r : calibrationRuns()) {
      write(calibration, r);
    }
    Path checked = tmp.resolve("checked");
    for (BedValidation.Run r : validationRuns(1)) {
      write(checked, r);
    }
    String perScheme =
        validate(checked, calibration, tmp.resolve("out1"), "--slowdown", "per-scheme");
    assertTrue(perScheme.contains("shared-host slowdown none: 0.200"), perScheme);
    assertTrue(
        perScheme.contains("shared-host slowdown powersgd:2: 0.100 (its own two-worker"),
        perScheme);
    assertTrue(perScheme.contains("largest error: 0.0%"), perScheme);
    assertTrue(perScheme.contains("within 15%: 12 of 12"), perScheme);
    String shared = validate(checked, calibration, tmp.resolve("out2"));
    assertTrue(
        shared.contains("shared-host slowdown powersgd:2: 0.200 (none's: --slowdown shared)"),
        shared);
    assertTrue(!shared.contains("largest error: 0.0%"), shared);
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int bad =
        ScalingCli.run(
            new String[] {
              "--validate",
              checked.toString(),
              "--calibration",
              calibration.toString(),
              "--slowdown",
              "each"
            },
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(2, bad, err.toString(StandardCharsets.UTF_8));
    assertTrue(
        err.toString(StandardCharsets.UTF_8).contains("--slowdown must be shared or per-scheme"),
        err.toString(StandardCharsets.UTF_8));
  }

  /** The synthetic bed's calibration, each scheme with its own shared-host slowdown. */
  private static BedValidation.Calibration calibratePerScheme(List<BedValidation.Run> runs) {
    return BedValidation.calibrate(
        runs, MLP, 2, LATENCY, GOODPUT, 2, PROFILE, java.util.Map.of(), PER_SCHEME);
  }

  private static String validate(Path checked, Path calibration, Path out, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--validate",
                checked.toString(),
                "--calibration",
                calibration.toString(),
                "--optimizer-ns-per-value",
                Double.toString(OPTIMIZER * 1e9),
                "--copy-ms",
                Double.toString(COPIES * 1e3),
                "--output",
                out.toString()));
    args.addAll(List.of(more));
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        ScalingCli.run(
            args.toArray(String[]::new),
            new PrintStream(stdout, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
    return stdout.toString(StandardCharsets.UTF_8);
  }

  /** A run as {@code spindle bench --network} leaves it: DIR/RATE/N-workers/SCHEME/out. */
  private static void write(Path dir, BedValidation.Run r) throws Exception {
    Path out =
        dir.resolve(r.rate())
            .resolve(r.workers() + "-workers")
            .resolve(r.scheme().toString().replace(':', '-'))
            .resolve("out");
    Files.createDirectories(out);
    Files.writeString(
        out.resolve("summary.json"),
        String.format(
            java.util.Locale.ROOT,
            "{\"workers\": %d, \"compression\": \"%s\", \"steps\": %d, \"global_batch\": %d,"
                + " \"compute_seconds_per_step\": %s, \"collective_seconds_per_step\": %s,"
                + " \"codec_seconds_per_step\": %s, \"wall_seconds_per_step\": %s,"
                + " \"samples_per_second\": %s, \"bytes_sent_per_worker_per_step\": %s}",
            r.workers(),
            r.scheme(),
            r.steps(),
            r.globalBatch(),
            r.compute(),
            r.ring(),
            r.codec(),
            r.wall(),
            r.samplesPerSecond(),
            r.bytes()));
  }

  private static BedValidation.Run scaled(BedValidation.Run r, double by) {
    return new BedValidation.Run(
        r.rate(),
        r.bitsPerSecond(),
        r.workers(),
        r.scheme(),
        r.steps(),
        r.globalBatch(),
        r.compute(),
        r.ring(),
        r.codec(),
        r.wall(),
        r.samplesPerSecond() * by,
        r.bytes());
  }

  /** The round protocol's bytes against what the 60-step bed runs of 2026-12-06 returned. */
  @Test
  void roundBytesAreWhatTheBedsRunsReturned() {
    // round_state_bytes_returned: none 15,321,720 at N = 2, 3, 4; powersgd:2 25,574,488 (N = 2),
    // 30,700,872 (3), 35,827,256 (4); the formula leaves out the state's names and shapes (a few
    // dozen bytes per rank)
    for (int n = 2; n <= 4; n++) {
      assertEquals(
          15_321_720, BedValidation.roundResultBytes(MLP, 2, n, Compression.parse("none")), 1);
    }
    double[] powersgd = {25_574_488, 30_700_872, 35_827_256};
    for (int n = 2; n <= 4; n++) {
      assertEquals(
          powersgd[n - 2],
          BedValidation.roundResultBytes(MLP, 2, n, Compression.parse("powersgd:2")),
          1e-4 * powersgd[n - 2]);
    }
    assertEquals(0, BedValidation.roundHopBytes(MLP, 2, 1, Compression.parse("none")));
  }
}
