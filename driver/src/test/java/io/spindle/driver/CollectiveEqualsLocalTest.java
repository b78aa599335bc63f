package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.WireFormat;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.worker.ModelSpec;
import java.nio.file.Path;
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

  static CollectiveSync collective(boolean sharded, boolean driverRendezvous, int failAtStep) {
    return new CollectiveSync(
        SPARK.sc(),
        20,
        WireFormat.FP32,
        sharded,
        DistributedEqualsLocalTest.LIMIT,
        DistributedEqualsLocalTest.BATCH,
        30000,
        driverRendezvous,
        failAtStep);
  }

  static INDArray trainCollective(
      int workers, boolean sharded, boolean driverRendezvous, int failAtStep) {
    try (DistributedDataset data = DistributedEqualsLocalTest.data(workers)) {
      return DistributedEqualsLocalTest.trainDistributed(
          collective(sharded, driverRendezvous, failAtStep), data, new GlobalModel(spec()));
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
