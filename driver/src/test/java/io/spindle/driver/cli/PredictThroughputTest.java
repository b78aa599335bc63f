package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.score.ScoringInput;
import io.spindle.driver.score.ScoringSession;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The throughput benchmark of issue 17 (not a pass/fail speed test): trains the default MLP on
 * MNIST ({@code -Dspindle.bench.epochs}, default 2) and reads its training samples/s from
 * summary.json, then scores the 60,000 training images with predict's own job ({@link
 * PredictCommand#scoreAndWrite}, Parquet output) {@code -Dspindle.bench.passes} times (default 4)
 * in one JVM, and prints both figures: the first pass (what one {@code spindle predict} process
 * sees, JIT and Spark SQL warm-up included) and the median of the later passes (steady state, what
 * a long scoring job sees). Run on an idle machine:
 *
 * <pre>
 * HEAVY_EXCLUSIVE=1 /work/bin/heavy mvn -B -ntp -o -Pslow -pl driver -am verify \
 *   -Dtest=PredictThroughputTest -Dsurefire.failIfNoSpecifiedTests=false -DskipITs
 * </pre>
 */
@Tag("slow")
class PredictThroughputTest {
  @Test
  void trainingVersusPredictThroughput(@TempDir Path tmp) throws Exception {
    int epochs = Integer.getInteger("spindle.bench.epochs", 2);
    int passes = Integer.getInteger("spindle.bench.passes", 4);
    Path run = tmp.resolve("run");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        SpindleCli.run(
            new String[] {
              "train",
              "--set",
              "data.mirror=" + TestDatasets.mirror(),
              "--set",
              "training.epochs=" + epochs,
              "--output",
              run.toString()
            },
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
    double training =
        new ObjectMapper()
            .readTree(run.resolve("summary.json").toFile())
            .get("samples_per_second")
            .asDouble();
    String images = TestDatasets.mirror().resolve("mnist/train-images-idx3-ubyte.gz").toString();
    List<Double> rates = new ArrayList<>();
    try (ScoringSession session = ScoringSession.open(run.toString(), List.of(), "bench")) {
      for (int pass = 0; pass < passes; pass++) {
        ScoringInput in = session.read(images, "", session.sc().defaultParallelism());
        PredictCommand.Written w =
            PredictCommand.scoreAndWrite(
                session,
                in,
                session.model().network().suggestedBatch(),
                "parquet",
                tmp.resolve("scores.parquet").toString(),
                true);
        assertEquals(60_000, w.examples());
        rates.add(w.examples() / w.seconds());
      }
    }
    List<Double> later = new ArrayList<>(rates.subList(1, rates.size()));
    later.sort(null);
    double steady = later.get(later.size() / 2);
    System.out.printf(
        Locale.ROOT,
        "[throughput] training %.0f samples/s (%d epochs); predict first pass %.0f examples/s"
            + " (%.2fx), steady state %.0f examples/s (%.2fx); passes %s%n",
        training,
        epochs,
        rates.get(0),
        rates.get(0) / training,
        steady,
        steady / training,
        rates);
  }
}
