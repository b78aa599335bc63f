package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.spindle.config.Compression;
import io.spindle.config.CompressionSpec;
import io.spindle.config.RingTransport;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
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
}
