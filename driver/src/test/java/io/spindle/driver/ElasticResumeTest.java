package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigException;
import io.spindle.driver.checkpoint.Checkpoint;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A checkpoint written with N workers resumes with M (issue 16): a run with {@code from} workers,
 * stopped at global step 20 and resumed with {@code to} workers, ends 50 steps later with the
 * parameters of an uninterrupted {@code from}-worker run within relative 1e-5, dropout on, for
 * {@code collective} and {@code gradient_sharing}. The global batch, its examples, their order and
 * every dropout mask are the same for any worker count (the masks are keyed by step and example);
 * what changes is how the shares' gradient sums are added up (float rounding).
 */
class ElasticResumeTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");

  static final int STOP = 20;
  static final int END = STOP + 50;

  @ParameterizedTest(name = "{0}: {1} workers, then {2}")
  @CsvSource({
    "collective, 4, 2",
    "gradient_sharing, 4, 2",
    "collective, 2, 3",
    "gradient_sharing, 2, 3"
  })
  void aRunResumedWithAnotherWorkerCountEndsWhereAnUninterruptedOneDoes(
      String sync, int from, int to, @TempDir Path tmp) {
    // 1,200 examples in batches of 50: 24 steps per epoch, so the 50 steps after the resume
    // cross two reshuffles; dropout 0.1 and 0.2 (ExactResumeTest's model), Adam, rounds of 4
    List<String> s = ExactResumeTest.settings(tmp, sync);
    s.addAll(List.of("training.batchSize=50", "training.epochs=3", "checkpoint.everySteps=10"));
    String fromWorkers = "cluster.workers=" + from;

    Path whole = tmp.resolve("whole");
    ExactResumeTest.train(SPARK.sc(), whole, s, fromWorkers, "training.maxSteps=" + END);

    Path parts = tmp.resolve("parts");
    ExactResumeTest.train(SPARK.sc(), parts, s, fromWorkers, "training.maxSteps=" + STOP);
    assertEquals(STOP, ExactResumeTest.last(parts).globalStep());
    Map<String, Object> resumed =
        ExactResumeTest.train(
            SPARK.sc(),
            parts,
            s,
            "cluster.workers=" + to,
            "training.maxSteps=" + END,
            "checkpoint.resume=auto");
    assertEquals(to, resumed.get("workers"), "the resumed leg's workers");
    assertEquals((long) END, resumed.get("steps"));

    Checkpoint expected = ExactResumeTest.last(whole);
    Checkpoint actual = ExactResumeTest.last(parts);
    assertEquals(END, expected.globalStep());
    assertEquals(END, actual.globalStep());
    assertEquals(expected.examplesSeen(), actual.examplesSeen());
    INDArray atStop =
        ExactResumeTest.store(parts).read(ExactResumeTest.store(parts).pathOf(STOP)).params();
    double moved = DistributedEqualsLocalTest.relativeError(expected.params(), atStop);
    double rel = DistributedEqualsLocalTest.relativeError(actual.params(), expected.params());
    System.out.printf(
        Locale.ROOT,
        "[elastic-resume] %s %d -> %d workers: relative L2 difference %.3g after %d more steps"
            + " (the parameters moved %.3g in them)%n",
        sync,
        from,
        to,
        rel,
        END - STOP,
        moved);
    assertTrue(moved > 1e-2, "the 50 steps after the resume must move the parameters: " + moved);
    assertTrue(rel <= 1e-5, "relative L2 difference " + rel + " exceeds 1e-5");
  }

  /**
   * With its shard count kept ({@code cluster.shards}), a checkpoint of 4 workers resumed on 2 ends
   * bit for bit where the uninterrupted 4-worker run ends: each worker plays two shards of the ring
   * of four ({@code ShardRing}), and gradient sharing merges the shards in shard order.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"collective", "gradient_sharing"})
  void withItsShardCountKeptAResumeOnFewerWorkersIsExact(String sync, @TempDir Path tmp) {
    List<String> s = ExactResumeTest.settings(tmp, sync);
    s.addAll(List.of("training.batchSize=50", "checkpoint.everySteps=10", "cluster.shards=4"));
    int stop = 10;
    int end = 30;
    Path whole = tmp.resolve("whole");
    ExactResumeTest.train(SPARK.sc(), whole, s, "cluster.workers=4", "training.maxSteps=" + end);
    Path parts = tmp.resolve("parts");
    ExactResumeTest.train(SPARK.sc(), parts, s, "cluster.workers=4", "training.maxSteps=" + stop);
    Map<String, Object> resumed =
        ExactResumeTest.train(
            SPARK.sc(),
            parts,
            s,
            "cluster.workers=2",
            "training.maxSteps=" + end,
            "checkpoint.resume=auto");
    assertEquals(2, resumed.get("workers"));
    assertEquals(4, resumed.get("shards"));
    Checkpoint expected = ExactResumeTest.last(whole);
    Checkpoint actual = ExactResumeTest.last(parts);
    assertEquals(end, actual.globalStep());
    assertArrayEquals(
        expected.params().castTo(DataType.FLOAT).toFloatVector(),
        actual.params().castTo(DataType.FLOAT).toFloatVector(),
        sync + ": the parameters differ in some bit");
  }

  /**
   * Batch norm's statistics are those of a logical shard: a checkpoint of a model with batch norm
   * resumes with another worker count only with its number of shards, which cluster.shards keeps.
   */
  @Test
  void aBatchNormModelResumesWithItsShardCount(@TempDir Path tmp) {
    List<String> s = ExactResumeTest.settings(tmp, "collective");
    s.add(
        "model.layers=[{type: dense, units: 32, activation: relu, dropout: 0.1}, {type:"
            + " batch_norm}, {type: output, units: 10, activation: softmax, loss: cross_entropy}]");
    Path out = tmp.resolve("run");
    ExactResumeTest.train(SPARK.sc(), out, s, "cluster.workers=4", "training.maxSteps=4");
    ConfigException refused =
        assertThrows(
            ConfigException.class,
            () ->
                ExactResumeTest.train(
                    SPARK.sc(),
                    out,
                    s,
                    "cluster.workers=2",
                    "training.maxSteps=8",
                    "checkpoint.resume=auto"));
    assertTrue(refused.getMessage().contains("its model has batch norm"), refused.getMessage());
    assertTrue(
        refused.getMessage().contains("written with 4 shards, this run has 2"),
        refused.getMessage());
    assertTrue(refused.getMessage().contains("set cluster.shards to 4"), refused.getMessage());
    Map<String, Object> resumed =
        ExactResumeTest.train(
            SPARK.sc(),
            out,
            s,
            "cluster.workers=2",
            "cluster.shards=4",
            "training.maxSteps=8",
            "checkpoint.resume=auto");
    assertEquals(8L, resumed.get("steps"));
    assertEquals(4, resumed.get("shards"));
  }
}
