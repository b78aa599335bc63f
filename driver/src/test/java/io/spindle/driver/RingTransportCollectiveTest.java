package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.spindle.config.Compression;
import io.spindle.config.CompressionSpec;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.RingTransport;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.model.fast.Bf16Products;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code cluster.ringTransport}: the collective engine's tasks in Spark's local mode share a JVM,
 * so {@code auto} runs their ring in process; its training ends with the very same parameters as
 * over loopback TCP ({@code tcp}), exact and compressed (bf16 with error feedback, a hook on every
 * send).
 */
class RingTransportCollectiveTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");
  @TempDir static Path cache;

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  static INDArray train(int workers, CompressionSpec compression, RingTransport transport) {
    try (DistributedDataset data = DistributedEqualsLocalTest.data(workers)) {
      CollectiveSync sync =
          new CollectiveSync(
                  SPARK.sc(),
                  DistributedEqualsLocalTest.layout(data),
                  20,
                  compression,
                  compression.scheme() == Compression.NONE,
                  30000,
                  true)
              .ringTransport(transport);
      return DistributedEqualsLocalTest.trainDistributed(
          sync, data, new GlobalModel(CollectiveEqualsLocalTest.spec()));
    }
  }

  @ParameterizedTest(name = "{0} workers, {1}")
  @CsvSource({"2, none", "3, none", "3, bf16"})
  void inProcessEndsWithTheParametersOfTcp(int workers, String compression) {
    CompressionSpec spec =
        new CompressionSpec(
            Compression.valueOf(compression.toUpperCase(java.util.Locale.ROOT)), 2, 0.01);
    INDArray tcp = train(workers, spec, RingTransport.TCP);
    INDArray inProcess = train(workers, spec, RingTransport.AUTO);
    assertEquals(0.0, DistributedEqualsLocalTest.relativeError(inProcess, tcp), "relative error");
    assertEquals(tcp, inProcess, "the parameters differ in some bit");
  }

  /**
   * Each worker reports what its products computed in, from its own JVM ({@code
   * worker_compute_precision}): float32 for a float32 model; for a bf16 model bf16 where this CPU
   * makes bf16 pay (AMX), else float32. In local mode the workers' JVM is this one, so its verdict
   * is the expected value.
   */
  @Test
  void workersReportWhatTheirProductsComputedIn() {
    // relu layers under a softmax output: the fast dense path, which bf16 products cover
    io.spindle.config.ModelConfig f32 =
        new io.spindle.config.ModelConfig(
            List.of(
                io.spindle.config.LayerConfig.dense(32, io.spindle.config.Activation.RELU),
                io.spindle.config.LayerConfig.dense(16, io.spindle.config.Activation.RELU),
                io.spindle.config.LayerConfig.output(
                    10,
                    io.spindle.config.Activation.SOFTMAX,
                    io.spindle.config.Loss.CROSS_ENTROPY)),
            io.spindle.config.WeightInit.XAVIER_UNIFORM,
            0.0,
            1e-4,
            Precision.FLOAT32);
    io.spindle.config.ModelConfig bf16 = f32.withPrecision(Precision.BF16);
    String expected = Bf16Products.effective(bf16, true).configName();
    for (io.spindle.config.ModelConfig model : List.of(f32, bf16)) {
      try (DistributedDataset data = DistributedEqualsLocalTest.data(2)) {
        CollectiveSync sync =
            new CollectiveSync(
                SPARK.sc(),
                DistributedEqualsLocalTest.layout(data),
                20,
                CompressionSpec.NONE,
                true,
                30000,
                true);
        DistributedEqualsLocalTest.trainDistributed(
            sync,
            data,
            new GlobalModel(
                DistributedEqualsLocalTest.spec(
                    model, OptimizerConfig.of(OptimizerType.ADAM, 1e-3))),
            5);
        assertEquals(
            model == f32 ? "float32" : expected,
            sync.facts().get("worker_compute_precision"),
            model.precision() + ": " + sync.facts());
      }
    }
  }
}
