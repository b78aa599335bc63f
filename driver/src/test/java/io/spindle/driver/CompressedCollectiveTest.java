package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.compress.ExchangeState;
import io.spindle.config.CompressionSpec;
import io.spindle.driver.checkpoint.Checkpoint;
import io.spindle.driver.checkpoint.CheckpointException;
import io.spindle.driver.checkpoint.CheckpointStore;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The lossy gradient exchanges' state is training state (issue 18): with {@code
 * cluster.compression} bf16, powersgd and topk, a run stopped and resumed from its checkpoints ends
 * bit for bit where an uninterrupted run ends (parameters, optimiser state and every worker's
 * residuals and factors), and a task killed mid-round (its barrier stage relaunched from the
 * committed state) does not change the result. Loopback, two workers, a small MLP with dropout and
 * Adam.
 */
class CompressedCollectiveTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");
  @TempDir static Path cache;

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  static List<String> settings(Path tmp, String compression, boolean sharded) {
    List<String> s = new ArrayList<>(ExactResumeTest.settings(tmp, "collective"));
    CompressionSpec spec = CompressionSpec.parse(compression);
    s.add("cluster.compression=" + spec.scheme().configName());
    s.add("cluster.powersgdRank=" + spec.rank());
    s.add("cluster.topkFraction=" + spec.fraction());
    s.add("cluster.shardOptimizer=" + sharded);
    return s;
  }

  static void assertSameState(Checkpoint expected, Checkpoint actual) {
    ExactResumeTest.assertSameState(expected, actual);
    assertEquals(
        expected.manifest().path("files").path(CheckpointStore.COMPRESSION).path("sha256").asText(),
        actual.manifest().path("files").path(CheckpointStore.COMPRESSION).path("sha256").asText(),
        CheckpointStore.COMPRESSION + " differs from the uninterrupted run's");
  }

  @ParameterizedTest(name = "{0}, sharded {1}")
  @CsvSource({"bf16, false", "powersgd:2, false", "topk:0.05, false", "powersgd:1, true"})
  void stoppedAndResumedRunEqualsUninterruptedBitForBit(
      String compression, boolean sharded, @TempDir Path tmp) throws Exception {
    List<String> s = settings(tmp, compression, sharded);
    Path whole = tmp.resolve("whole");
    Map<String, Object> wholeSummary = ExactResumeTest.train(SPARK.sc(), whole, s);
    assertEquals(24L, wholeSummary.get("steps"));
    assertEquals(CompressionSpec.parse(compression).toString(), wholeSummary.get("compression"));
    Checkpoint end = ExactResumeTest.last(whole);
    byte[] bytes = end.exchangeState();
    assertNotNull(bytes, "a lossy run's checkpoint holds " + CheckpointStore.COMPRESSION);
    ExchangeState state = ExchangeState.fromBytes(bytes, "test");
    assertEquals(2, state.workers().size());
    assertEquals(24, state.workers().get(0).step());

    Path parts = tmp.resolve("parts");
    ExactResumeTest.train(SPARK.sc(), parts, s, "training.maxSteps=6");
    assertEquals(6, ExactResumeTest.last(parts).globalStep());
    // mid-round and mid-epoch stops: rounds of 4 steps, 12 steps per epoch
    ExactResumeTest.train(SPARK.sc(), parts, s, "training.maxSteps=14", "checkpoint.resume=auto");
    assertEquals(14, ExactResumeTest.last(parts).globalStep());
    Map<String, Object> summary =
        ExactResumeTest.train(SPARK.sc(), parts, s, "checkpoint.resume=auto");
    assertEquals(24L, summary.get("steps"));
    assertSameState(end, ExactResumeTest.last(parts));
    assertEquals(wholeSummary.get("test_accuracy"), summary.get("test_accuracy"));
  }

  /**
   * A lossy run's checkpoint whose manifest lists no {@code compression.bin} is refused on resume,
   * not continued with zero residuals (which would silently leave the uninterrupted trajectory).
   */
  @Test
  void aCheckpointWithoutItsResidualsIsRefused(@TempDir Path tmp) throws Exception {
    List<String> s = settings(tmp, "topk:0.05", false);
    Path parts = tmp.resolve("parts");
    ExactResumeTest.train(SPARK.sc(), parts, s, "training.maxSteps=8");
    // the checkpoint without compression.bin is refused, not resumed from zero residuals
    Path step8 = parts.resolve("checkpoints").resolve("step-000000000008");
    String manifest = Files.readString(step8.resolve(CheckpointStore.MANIFEST));
    Files.writeString(
        step8.resolve(CheckpointStore.MANIFEST),
        manifest.replaceAll("\"compression\\.bin\"", "\"ignored.bin\""));
    CheckpointStore store = ExactResumeTest.store(parts);
    Checkpoint stripped = store.read(store.pathOf(8));
    assertNull(stripped.exchangeState());
    CheckpointException e =
        assertThrows(
            CheckpointException.class,
            () -> ExactResumeTest.train(SPARK.sc(), parts, s, "checkpoint.resume=auto"));
    assertTrue(e.getMessage().contains(CheckpointStore.COMPRESSION), e.getMessage());
  }

  static INDArray train(String compression, int failRound, int failAt, GlobalModel model) {
    try (DistributedDataset data = DistributedEqualsLocalTest.data(2)) {
      ParameterSync sync =
          new CollectiveSync(
              SPARK.sc(),
              DistributedEqualsLocalTest.layout(data),
              20,
              CompressionSpec.parse(compression),
              false,
              30000,
              true);
      return DistributedEqualsLocalTest.trainDistributed(
          failAt < 0 ? sync : new CollectiveEqualsLocalTest.FailOnce(sync, failRound, failAt),
          data,
          model);
    }
  }

  /**
   * 50 steps in rounds of 20: rank 0's task dies at step 7 of the second round, so the relaunched
   * stage must start from the first round's committed residuals and factors.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"bf16", "powersgd:2", "topk:0.05"})
  void aTaskKilledMidRoundDoesNotChangeTheResult(String compression) {
    GlobalModel whole = new GlobalModel(CollectiveEqualsLocalTest.spec());
    INDArray uninterrupted = train(compression, 0, -1, whole);
    GlobalModel relaunched = new GlobalModel(CollectiveEqualsLocalTest.spec());
    INDArray interrupted = train(compression, 1, 7, relaunched);
    assertArrayEquals(
        uninterrupted.toFloatVector(),
        interrupted.toFloatVector(),
        0f,
        "a relaunched round must redo exactly the same steps");
    assertEquals(whole.exchangeState().workers(), relaunched.exchangeState().workers());
    assertEquals(50, whole.exchangeState().workers().get(1).step());
  }
}
