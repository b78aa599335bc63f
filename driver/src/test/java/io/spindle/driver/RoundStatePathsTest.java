package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The round's state through the driver's rendezvous server (raw bits, uploaded and fetched by
 * digest) and through Spark (broadcasts and task results) commit the same bits: parameters,
 * optimiser state and every rank's exchange state, with executors that keep their state and with
 * executors that hold nothing (every start value fetched). Loopback, two workers, Adam, rounds of
 * 20 steps.
 */
class RoundStatePathsTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");
  @TempDir static Path cache;

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  record Run(GlobalModel model, Map<String, Object> facts) {}

  static Run train(String compression, boolean sharded, boolean rendezvous, boolean warm) {
    GlobalModel model = new GlobalModel(CollectiveEqualsLocalTest.spec());
    try (DistributedDataset data = DistributedEqualsLocalTest.data(2)) {
      CollectiveSync sync =
          ExecutorStateCollectiveTest.sync(SPARK, data, compression, sharded, rendezvous, warm);
      DistributedEqualsLocalTest.trainDistributed(sync, data, model);
      return new Run(model, sync.facts());
    }
  }

  @ParameterizedTest(name = "{0}, sharded {1}")
  @CsvSource({"powersgd:2, false", "none, true"})
  void bothPathsCommitTheSameBits(String compression, boolean sharded) {
    Run spark = train(compression, sharded, false, true);
    assertEquals("spark", spark.facts().get("round_state_transport"));
    for (boolean warm : List.of(true, false)) {
      Run raw = train(compression, sharded, true, warm);
      assertEquals("rendezvous", raw.facts().get("round_state_transport"));
      @SuppressWarnings("unchecked")
      List<Map<String, Object>> rounds =
          (List<Map<String, Object>>) raw.facts().get("round_start_traffic");
      assertTrue(rounds.size() >= 3, "rounds: " + rounds);
      if (!warm) {
        for (Map<String, Object> r : rounds.subList(1, rounds.size())) {
          // cold: the optimiser state at least comes from the driver's server, raw
          assertTrue(
              (Long) r.get("bytes_fetched") >= 4 * raw.model().params().length(), "round " + r);
        }
      }
      assertEquals(
          spark.facts().get("round_state_bytes_returned"),
          raw.facts().get("round_state_bytes_returned"),
          "the same values return either way");
      String what = "warm " + warm;
      ExecutorStateCollectiveTest.assertSameState(spark.model(), raw.model(), compression, what);
    }
  }
}
