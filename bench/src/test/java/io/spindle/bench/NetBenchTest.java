package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.bench.ScalingModel.Compression;
import io.spindle.compress.GradientLayout;
import io.spindle.compress.GradientLayout.Tensor;
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

  /** Runs made by the model itself (round cost 1 s + round bytes at the link's rate). */
  static List<BedValidation.Run> synthetic(double offBy) {
    ScalingModel shape =
        new ScalingModel(
            MLP,
            1,
            new ScalingModel.Costs(
                0, 0, 0, 0, Double.POSITIVE_INFINITY, java.util.Map.of(), java.util.Map.of(), 2),
            false);
    List<BedValidation.Run> runs = new ArrayList<>();
    for (String rate : List.of("100mbit", "1gbit")) {
      double bits = ScalingCli.bits(rate);
      double payload = bits * 0.956 / 8;
      for (int n : new int[] {2, 3, 4}) {
        for (String s : List.of("none", "powersgd:2")) {
          Compression c = Compression.parse(s);
          double stretch = Math.max(1, n / 2.0);
          double compute = stretch * 0.022 * 2 / n;
          double codec = s.equals("none") ? 0 : 0.006;
          double ring =
              shape.phasesPerStep(c, n) * 70e-6 + shape.bytesPerWorkerPerStep(c, n) / payload;
          double round = 1.0 + BedValidation.roundBytes(MLP.length(), 2, n, c) / payload;
          double wall = compute + stretch * codec + ring + round / 235;
          double measured = 256 / wall * (n == 4 ? 1 + offBy : 1);
          runs.add(
              new BedValidation.Run(
                  rate,
                  bits,
                  n,
                  c,
                  235,
                  256,
                  compute,
                  ring,
                  stretch * codec,
                  wall,
                  measured,
                  shape.bytesPerWorkerPerStep(c, n)));
        }
      }
    }
    return runs;
  }

  @Test
  void aBedThatBehavesAsTheModelSaysIsPredictedExactly() {
    List<BedValidation.Check> checks = BedValidation.check(synthetic(0), MLP, 2, 70e-6, 0.956);
    assertEquals(12, checks.size());
    for (BedValidation.Check c : checks) {
      assertEquals(0, c.error(), 1e-9, c.toString());
    }
    // calibration: none at N = 2 at both rates, powersgd at N = 2 at the fast rate; the other 9
    // are predictions
    assertEquals(9, checks.stream().filter(c -> !c.calibration()).count());
  }

  @Test
  void aRunTheModelMissesShowsItsError() {
    List<BedValidation.Check> checks = BedValidation.check(synthetic(0.25), MLP, 2, 70e-6, 0.956);
    for (BedValidation.Check c : checks) {
      // measured 25% above the model at N = 4: predicted / measured - 1 = -20%
      assertEquals(c.workers() == 4 ? 1 / 1.25 - 1 : 0, c.error(), 1e-9, c.toString());
    }
    assertTrue(BedValidation.table(checks).contains("| -20.0% | no |"));
  }
}
