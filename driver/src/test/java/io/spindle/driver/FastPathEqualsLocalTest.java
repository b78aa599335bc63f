package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.CompressionSpec;
import io.spindle.config.Kernels;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.driver.sync.GradientSharing;
import io.spindle.driver.sync.ParameterAveraging;
import io.spindle.worker.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Distributed equals local with the fast kernels ({@code model.kernels: fast}) on the workers:
 * every sync mode, computing its replicas' gradients with {@code FastReplica}, ends where the
 * single-process reference loop of {@link DistributedEqualsLocalTest} ends, which computes with
 * DL4J's layers. A ReLU network with dropout on every layer's input, so that the keyed masks of
 * both paths take part; the tolerances are those of the DL4J-only tests.
 */
class FastPathEqualsLocalTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");
  @TempDir static Path cache;

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  static ModelConfig model(Kernels kernels) {
    return new ModelConfig(
            List.of(
                new LayerConfig(LayerType.DENSE, 32, Activation.RELU, 0.2, null),
                new LayerConfig(LayerType.DENSE, 16, Activation.RELU, 0.3, null),
                new LayerConfig(LayerType.OUTPUT, 10, Activation.SOFTMAX, 0.1, Loss.CROSS_ENTROPY)),
            WeightInit.XAVIER_UNIFORM,
            0.0,
            1e-4,
            Precision.FLOAT32)
        .withKernels(kernels);
  }

  static ModelSpec spec(Kernels kernels, OptimizerConfig optimizer) {
    ModelSpec spec = DistributedEqualsLocalTest.spec(model(kernels), optimizer);
    assertTrue(
        spec.usesFastKernels() == (kernels == Kernels.FAST),
        "the workers must compute with " + kernels.configName() + " kernels");
    return spec;
  }

  static void assertClose(INDArray actual, INDArray expected, String what) {
    double rel = DistributedEqualsLocalTest.relativeError(actual, expected);
    assertTrue(rel <= 1e-5, what + ": relative L2 error " + rel + " exceeds 1e-5");
    double scale = expected.amaxNumber().doubleValue();
    double max = DistributedEqualsLocalTest.maxAbsError(actual, expected);
    assertTrue(max <= 1e-5 * scale, what + ": max element error " + max + " > 1e-5 x " + scale);
  }

  @Test
  void gradientSharingAndCollectiveOnFastKernelsEqualTheDl4jSingleProcess() {
    OptimizerConfig adam = OptimizerConfig.of(OptimizerType.ADAM, 1e-3);
    ModelSpec fast = spec(Kernels.FAST, adam);
    INDArray expected = DistributedEqualsLocalTest.trainLocal(spec(Kernels.DL4J, adam));
    INDArray initial = new GlobalModel(fast).params().dup();
    assertTrue(
        DistributedEqualsLocalTest.relativeError(expected, initial) > 1e-2,
        "the reference must have moved the parameters");
    try (DistributedDataset data = DistributedEqualsLocalTest.data(2)) {
      INDArray shared =
          DistributedEqualsLocalTest.trainDistributed(
              new GradientSharing(SPARK.sc(), DistributedEqualsLocalTest.layout(data)),
              data,
              new GlobalModel(fast));
      assertClose(shared, expected, "gradient sharing, 2 workers");
    }
    try (DistributedDataset data = DistributedEqualsLocalTest.data(2)) {
      INDArray collective =
          DistributedEqualsLocalTest.trainDistributed(
              new CollectiveSync(
                  SPARK.sc(),
                  DistributedEqualsLocalTest.layout(data),
                  20,
                  CompressionSpec.NONE,
                  true,
                  30000,
                  true),
              data,
              new GlobalModel(fast));
      assertClose(collective, expected, "collective (sharded), 2 workers");
    }
  }

  @Test
  void parameterAveragingOnFastKernelsWithOneLocalStepEqualsGradientSharingOnDl4j() {
    OptimizerConfig sgd = OptimizerConfig.of(OptimizerType.SGD, 0.1);
    try (DistributedDataset data = DistributedEqualsLocalTest.data(2)) {
      INDArray reference =
          DistributedEqualsLocalTest.trainDistributed(
              new GradientSharing(SPARK.sc(), DistributedEqualsLocalTest.layout(data)),
              data,
              new GlobalModel(spec(Kernels.DL4J, sgd)));
      INDArray averaged =
          DistributedEqualsLocalTest.trainDistributed(
              new ParameterAveraging(SPARK.sc(), DistributedEqualsLocalTest.layout(data), 1),
              data,
              new GlobalModel(spec(Kernels.FAST, sgd)));
      assertClose(averaged, reference, "parameter averaging (K = 1, fast) vs gradient sharing");
    }
  }
}
