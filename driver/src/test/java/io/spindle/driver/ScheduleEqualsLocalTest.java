package io.spindle.driver;

import static io.spindle.driver.DistributedEqualsLocalTest.LIMIT;
import static io.spindle.driver.DistributedEqualsLocalTest.data;
import static io.spindle.driver.DistributedEqualsLocalTest.model;
import static io.spindle.driver.DistributedEqualsLocalTest.relativeError;
import static io.spindle.driver.DistributedEqualsLocalTest.spec;
import static io.spindle.driver.DistributedEqualsLocalTest.trainDistributed;
import static io.spindle.driver.DistributedEqualsLocalTest.trainLocal;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.CompressionSpec;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.ScheduleConfig;
import io.spindle.config.ScheduleType;
import io.spindle.data.BatchLayout;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.driver.sync.GradientSharing;
import io.spindle.driver.sync.ParameterAveraging;
import io.spindle.worker.ModelSpec;
import java.nio.file.Path;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A non-constant learning-rate schedule gives every sync strategy the trajectory of a single
 * process that applies the same schedule at the global step; and the training modes (full batch,
 * online) under gradient sharing equal the single-process full-batch and online runs.
 */
class ScheduleEqualsLocalTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2]");
  @TempDir static Path cache;

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  /**
   * Warm-up over 5 steps, then linear from lr to lr/10 over 30 steps, then lr/10: the 50 steps of
   * the reference cross all three phases and two reshuffles (24 steps per epoch).
   */
  static OptimizerConfig scheduled(OptimizerType type, double lr) {
    return new OptimizerConfig(
        type,
        lr,
        0.9,
        0.9,
        0.999,
        1e-8,
        0.95,
        new ScheduleConfig(ScheduleType.LINEAR, 30, lr / 10, 1, 1.0, 5, 0));
  }

  static void assertClose(INDArray expected, INDArray actual, double tolerance) {
    double rel = relativeError(actual, expected);
    assertTrue(rel <= tolerance, "relative L2 error " + rel + " exceeds " + tolerance);
  }

  static INDArray distributed(
      Function<BatchLayout, ParameterSync> sync, ModelSpec spec, int workers) {
    try (DistributedDataset data = data(workers)) {
      return trainDistributed(
          sync.apply(DistributedEqualsLocalTest.layout(data)), data, new GlobalModel(spec));
    }
  }

  @Test
  void gradientSharingFollowsTheScheduleOfASingleProcess() {
    ModelSpec spec = spec(model(1e-4), scheduled(OptimizerType.ADAM, 1e-3));
    INDArray expected = trainLocal(spec);
    INDArray constant = trainLocal(spec(model(1e-4), OptimizerConfig.of(OptimizerType.ADAM, 1e-3)));
    assertTrue(
        relativeError(expected, constant) > 1e-3,
        "the schedule must change the trajectory, else this test shows nothing");
    assertClose(expected, distributed(l -> new GradientSharing(SPARK.sc(), l), spec, 2), 1e-5);
  }

  /**
   * Adam with epsilon 1e-6 here: the ring sums in another order than one process, and for a
   * gradient that is float32 noise around zero Adam's step is about lr with the noise's sign (with
   * epsilon 1e-8 one such flip on this trajectory moves one weight by 2 lr, a relative error of
   * 2e-4 that says nothing about the schedule).
   */
  @Test
  void collectiveShardsFollowTheScheduleOfASingleProcess() {
    OptimizerConfig adam = scheduled(OptimizerType.ADAM, 1e-3);
    ModelSpec spec =
        spec(
            model(1e-4),
            new OptimizerConfig(
                adam.type(),
                adam.learningRate(),
                adam.momentum(),
                adam.beta1(),
                adam.beta2(),
                1e-6,
                adam.rmsDecay(),
                adam.schedule()));
    Function<BatchLayout, ParameterSync> sync =
        l -> new CollectiveSync(SPARK.sc(), l, 20, CompressionSpec.NONE, true, 30000, true);
    assertClose(trainLocal(spec), distributed(sync, spec, 2), 1e-5);
  }

  /** One worker's K local steps must use the rates of global steps t..t+K-1, not 0..K-1. */
  @Test
  void parameterAveragingLocalStepsUseTheRateOfTheGlobalStep() {
    ModelSpec spec = spec(model(1e-4), scheduled(OptimizerType.MOMENTUM, 0.05));
    assertClose(
        trainLocal(spec),
        distributed(l -> new ParameterAveraging(SPARK.sc(), l, 4), spec, 1),
        1e-5);
  }

  /** Full batch: every step is the whole 1,200-example subset, shared by 2 workers. */
  @Test
  void fullBatchGradientSharingEqualsSingleProcessFullBatchGradientDescent() {
    ModelSpec spec = spec(model(1e-4), scheduled(OptimizerType.SGD, 0.5));
    INDArray expected = trainLocal(spec, LIMIT, 12);
    INDArray actual;
    try (DistributedDataset data = data(2, 0)) {
      assertTrue(data.batchSize() == LIMIT && data.stepsPerEpoch() == 1, "one step per epoch");
      actual =
          trainDistributed(
              new GradientSharing(SPARK.sc(), DistributedEqualsLocalTest.layout(data)),
              data,
              new GlobalModel(spec),
              12);
    }
    assertClose(expected, actual, 1e-5);
  }

  /**
   * Online: one example per step; with 2 workers one of them holds an empty share every step and
   * must contribute zero gradient and zero count (else the mean would be halved).
   */
  @Test
  void onlineGradientSharingWithAnEmptyShareEqualsSingleProcessOnlineLearning() {
    ModelSpec spec = spec(model(0.0), scheduled(OptimizerType.SGD, 0.02));
    INDArray expected = trainLocal(spec, 1, 40);
    INDArray actual;
    try (DistributedDataset data = data(2, 1)) {
      actual =
          trainDistributed(
              new GradientSharing(SPARK.sc(), DistributedEqualsLocalTest.layout(data)),
              data,
              new GlobalModel(spec),
              40);
    }
    assertClose(expected, actual, 1e-5);
  }
}
