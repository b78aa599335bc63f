package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.CompressionSpec;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.data.MiniBatch;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.worker.ModelSpec;
import java.nio.file.Path;
import java.util.Iterator;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The collective engine against the single-process reference loop of {@link
 * DistributedEqualsLocalTest}: same global batches, 50 Adam steps across two epochs, in rounds of
 * 20 steps (so rounds cross epoch ends and restart mid-epoch).
 */
class CollectiveEqualsLocalTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");
  @TempDir static Path cache;

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  static ModelSpec spec() {
    return DistributedEqualsLocalTest.spec(
        DistributedEqualsLocalTest.model(1e-4), OptimizerConfig.of(OptimizerType.ADAM, 1e-3));
  }

  static CollectiveSync collective(
      DistributedDataset data, boolean sharded, boolean driverRendezvous) {
    return new CollectiveSync(
        SPARK.sc(),
        DistributedEqualsLocalTest.layout(data),
        20,
        CompressionSpec.NONE,
        sharded,
        30000,
        driverRendezvous);
  }

  static INDArray trainCollective(
      int workers, boolean sharded, boolean driverRendezvous, int failAtStep) {
    try (DistributedDataset data = DistributedEqualsLocalTest.data(workers)) {
      ParameterSync sync = collective(data, sharded, driverRendezvous);
      return DistributedEqualsLocalTest.trainDistributed(
          failAtStep < 0 ? sync : new FailOnce(sync, failAtStep), data, new GlobalModel(spec()));
    }
  }

  /**
   * Test-only fault injection, installed around a strategy: in its first round (or round {@code
   * round}, 0-based), the task of rank 0 fails on its first attempt when it reaches step {@code
   * failAt} of the round, as if its executor had died; Spark relaunches the barrier stage.
   */
  static final class FailOnce implements ParameterSync {
    private final ParameterSync sync;
    private final int failAt;
    private int roundsBefore;

    FailOnce(ParameterSync sync, int failAt) {
      this(sync, 0, failAt);
    }

    FailOnce(ParameterSync sync, int round, int failAt) {
      this.sync = sync;
      this.roundsBefore = round;
      this.failAt = failAt;
    }

    @Override
    public RoundResult round(
        JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model) {
      JavaRDD<MiniBatch> in = batches;
      if (roundsBefore-- == 0) {
        int at = step + failAt;
        in = batches.mapPartitionsWithIndex((w, it) -> w == 0 ? new FailAt(it, at) : it, true);
      }
      return sync.round(in, step, maxSteps, iteration, model);
    }

    @Override
    public String name() {
      return sync.name();
    }

    @Override
    public java.util.Map<String, Object> facts() {
      return sync.facts();
    }
  }

  /** A partition that throws instead of handing out the batch of step {@code at}, on attempt 0. */
  static final class FailAt implements Iterator<MiniBatch> {
    private final Iterator<MiniBatch> in;
    private final int at;

    FailAt(Iterator<MiniBatch> in, int at) {
      this.in = in;
      this.at = at;
    }

    @Override
    public boolean hasNext() {
      return in.hasNext();
    }

    @Override
    public MiniBatch next() {
      MiniBatch b = in.next();
      if (b.step() == at && TaskContext.get().stageAttemptNumber() == 0) {
        throw new IllegalStateException("injected failure (test) in rank 0 at step " + at);
      }
      return b;
    }
  }

  @ParameterizedTest(name = "{0} workers, sharded {1}, driver rendezvous {2}")
  @CsvSource({"2, true, true", "2, false, false", "4, true, false", "4, false, true"})
  void collectiveSyncWithAdamEqualsSingleProcess(
      int workers, boolean sharded, boolean driverRendezvous) {
    INDArray expected = DistributedEqualsLocalTest.trainLocal(spec());
    INDArray actual = trainCollective(workers, sharded, driverRendezvous, -1);
    double rel = DistributedEqualsLocalTest.relativeError(actual, expected);
    assertTrue(rel <= 1e-5, "relative L2 error " + rel + " exceeds 1e-5");
    double scale = expected.amaxNumber().doubleValue();
    double max = DistributedEqualsLocalTest.maxAbsError(actual, expected);
    assertTrue(max <= 1e-5 * scale, "max element error " + max + " exceeds 1e-5 x " + scale);
  }

  @Test
  void aTaskKilledMidRoundEndsWithTheParametersOfAnUninterruptedRun() {
    INDArray uninterrupted = trainCollective(2, true, true, -1);
    INDArray interrupted = trainCollective(2, true, true, 7);
    double rel = DistributedEqualsLocalTest.relativeError(interrupted, uninterrupted);
    assertTrue(rel == 0.0, "a relaunched round must redo exactly the same steps, error " + rel);
  }
}
