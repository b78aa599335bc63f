package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.CompressionSpec;
import io.spindle.data.MiniBatch;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.worker.collective.StickyState;
import io.spindle.worker.collective.TcpRing;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The collective engine's executor-resident state between rounds ({@link StickyState}): a round
 * whose executors hold the committed state fetches nothing from the driver, ranks other than 0 of a
 * replicated optimiser return only their own exchange state, and a cold executor (cache cleared, or
 * a run id that matches nothing) gives the same bits. Loopback, two workers, Adam, rounds of 20
 * steps.
 */
class ExecutorStateCollectiveTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");
  @TempDir static Path cache;

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  /** How the executors' state is treated between rounds. */
  enum Executors {
    /** kept, as in production */
    WARM,
    /** never matching: every round runs under a new id */
    NEW_ID,
    /** forgotten before every round (every executor lost its JVM) */
    CLEARED
  }

  record Run(GlobalModel model, Map<String, Object> facts) {}

  static Run train(String compression, boolean sharded, Executors executors) {
    GlobalModel model = new GlobalModel(CollectiveEqualsLocalTest.spec());
    try (DistributedDataset data = DistributedEqualsLocalTest.data(2)) {
      CollectiveSync sync =
          sync(SPARK, data, compression, sharded, true, executors != Executors.NEW_ID);
      ParameterSync run =
          executors != Executors.CLEARED
              ? sync
              : new ParameterSync() {
                @Override
                public RoundResult round(
                    JavaRDD<MiniBatch> batches,
                    int step,
                    int maxSteps,
                    long iteration,
                    GlobalModel m) {
                  StickyState.clear(); // local mode: the executors' JVM is this one
                  return sync.round(batches, step, maxSteps, iteration, m);
                }

                @Override
                public String name() {
                  return sync.name();
                }

                @Override
                public Map<String, Object> facts() {
                  return sync.facts();
                }
              };
      DistributedEqualsLocalTest.trainDistributed(run, data, model);
      return new Run(model, sync.facts());
    }
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> rounds(Run run) {
    return (List<Map<String, Object>>) run.facts().get("round_start_traffic");
  }

  /**
   * After the first round every value of a round's start comes from the executors: no byte is
   * fetched from the driver. What the ranks return: rank 0 the parameters, (replicated) the whole
   * optimiser state and its exchange state; rank 1 only what is its own (its exchange state, its
   * optimiser chunk when sharded).
   */
  @ParameterizedTest(name = "{0}, sharded {1}")
  @CsvSource({"powersgd:2, false", "none, true", "none, false"})
  void aRoundWhoseExecutorsHoldTheCommittedStateFetchesNothing(
      String compression, boolean sharded) {
    Run run = train(compression, sharded, Executors.WARM);
    List<Map<String, Object>> rounds = rounds(run);
    assertTrue(rounds.size() >= 3, "rounds: " + rounds);
    boolean lossy = CompressionSpec.parse(compression).scheme().lossy();
    long n = run.model().params().length();
    long stateLength = run.model().globalStep().stateLength();
    assertEquals(2 * n, stateLength, "Adam keeps two values per parameter");
    Map<String, Object> first = rounds.get(0);
    assertEquals(0, first.get("executor_hits"), "a new run's executors hold nothing: " + first);
    // the fresh optimiser's zeros are built on the executors (both ranks), and so are the
    // parameters where the task's network holds the model's initial bits; the rest is fetched
    int built = (Integer) first.get("executor_built");
    assertTrue(built >= 2, "a fresh optimiser state is zeros: " + first);
    assertEquals(4, built + (Integer) first.get("driver_fetches"), "round " + first);
    assertEquals((4L - built) * 4 * n, first.get("bytes_fetched"), "round " + first);
    for (Map<String, Object> r : rounds.subList(1, rounds.size())) {
      assertEquals(0, r.get("driver_fetches"), "round " + r);
      assertEquals(0, r.get("executor_built"), "round " + r);
      assertEquals(0L, r.get("bytes_fetched"), "round " + r);
      assertEquals(lossy ? 6 : 4, r.get("executor_hits"), "round " + r);
    }
    int[] bounds = TcpRing.bounds((int) n, 2);
    long chunk0 = 4L * 2 * bounds[1];
    long chunk1 = 4L * 2 * (n - bounds[1]);
    for (Map<String, Object> r : rounds) {
      @SuppressWarnings("unchecked")
      List<Long> returned = (List<Long>) r.get("bytes_returned_by_rank");
      long rank1 = returned.get(1);
      long exchangeBytes =
          lossy ? run.model().exchangeState().workers().get(1).toBytes().length : 0;
      if (sharded) {
        assertEquals(chunk1 + exchangeBytes, rank1, "rank 1 returns its optimiser chunk");
        assertEquals(4 * n + chunk0 + exchangeBytes, (long) returned.get(0));
      } else {
        assertEquals(exchangeBytes, rank1, "rank 1 returns only its own exchange state");
        assertEquals(4 * n + 4 * stateLength + exchangeBytes, (long) returned.get(0));
      }
    }
  }

  /**
   * Executors that hold nothing (a run id that matches no entry, or the cache cleared before each
   * round) fetch everything from the driver in every round and end with the same bits: parameters,
   * optimiser state and every rank's exchange state.
   */
  @ParameterizedTest(name = "{0}, sharded {1}")
  @CsvSource({"powersgd:2, false", "topk:0.05, false", "none, true"})
  void coldExecutorsGiveTheSameBits(String compression, boolean sharded) {
    Run warm = train(compression, sharded, Executors.WARM);
    for (Executors cold : List.of(Executors.NEW_ID, Executors.CLEARED)) {
      Run other = train(compression, sharded, cold);
      List<Map<String, Object>> rounds = rounds(other);
      for (Map<String, Object> r : rounds) {
        assertEquals(0, r.get("executor_hits"), cold + ": round " + r);
      }
      for (Map<String, Object> r : rounds.subList(1, rounds.size())) {
        // the optimiser state (no longer zeros) at least comes from the driver
        assertTrue(
            (Long) r.get("bytes_fetched") >= 4 * other.model().params().length(),
            cold + ": round " + r);
      }
      assertSameState(warm.model(), other.model(), compression, cold.toString());
    }
  }

  /**
   * Every committed round says where its time went outside its steady steps ({@code
   * round_timeline}): each phase is a duration, the start's and end's phases add up to the round's
   * start and finish, those and the steps fit in the round, and the run's totals are the rounds'
   * sums.
   */
  @org.junit.jupiter.api.Test
  @SuppressWarnings("unchecked")
  void everyRoundSaysWhereItsStartAndEndWent() {
    Run run = train("none", true, Executors.WARM);
    List<Map<String, Object>> rounds =
        (List<Map<String, Object>>) run.facts().get("round_timeline");
    assertEquals(rounds(run).size(), rounds.size(), "one entry per committed round");
    double start = 0;
    double end = 0;
    for (Map<String, Object> r : rounds) {
      double seconds = (Double) r.get("seconds");
      for (String phase :
          List.of(
              "prepare", "launch", "setup", "network", "state", "warmup", "end", "return",
              "commit")) {
        double v = (Double) r.get(phase + "_seconds");
        assertTrue(v >= 0 && v <= seconds, phase + " of round " + r);
      }
      double s =
          (Double) r.get("prepare_seconds")
              + (Double) r.get("launch_seconds")
              + (Double) r.get("setup_seconds")
              + (Double) r.get("network_seconds")
              + (Double) r.get("state_seconds");
      double e =
          (Double) r.get("end_seconds")
              + (Double) r.get("return_seconds")
              + (Double) r.get("commit_seconds");
      assertEquals(s, (Double) r.get("start_seconds"), 1e-9, "round " + r);
      assertEquals(e, (Double) r.get("finish_seconds"), 1e-9, "round " + r);
      // the wall clocks of submission and results are read to the millisecond
      assertTrue(s + e <= seconds + 0.01, "start and end fit in the round: " + r);
      assertTrue((Double) r.get("prepare_seconds") > 0, "a round is prepared: " + r);
      start += s;
      end += e;
    }
    assertEquals(start, (Double) run.facts().get("round_start_seconds"), 1e-9);
    assertEquals(end, (Double) run.facts().get("round_end_seconds"), 1e-9);
  }

  /**
   * The collective strategy of these tests: rounds of 20 steps, a 30 s peer timeout, the round's
   * state through the driver's rendezvous or through Spark, executors keeping their state or not.
   */
  static CollectiveSync sync(
      SparkLocal spark,
      DistributedDataset data,
      String compression,
      boolean sharded,
      boolean rendezvous,
      boolean executorState) {
    return new CollectiveSync(
            spark.sc(),
            DistributedEqualsLocalTest.layout(data),
            20,
            CompressionSpec.parse(compression),
            sharded,
            30000,
            rendezvous)
        .executorState(executorState);
  }

  /**
   * {@code actual} holds {@code expected}'s parameters, optimiser state and (for a lossy {@code
   * compression}) exchange states bit for bit; {@code what} names the case in failures.
   */
  static void assertSameState(
      GlobalModel expected, GlobalModel actual, String compression, String what) {
    assertArrayEquals(
        expected.params().toFloatVector(),
        actual.params().toFloatVector(),
        0f,
        what + ": parameters");
    assertArrayEquals(
        expected.globalStep().state().toFloatVector(),
        actual.globalStep().state().toFloatVector(),
        0f,
        what + ": optimiser state");
    if (CompressionSpec.parse(compression).scheme().lossy()) {
      assertNotNull(expected.exchangeState(), what + ": expected exchange states");
      assertNotNull(actual.exchangeState(), what + ": exchange states");
      assertArrayEquals(
          expected.exchangeState().toBytes(),
          actual.exchangeState().toBytes(),
          what + ": exchange states");
    }
  }
}
