package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.driver.job.TrainJob;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every sync strategy runs with Spark's authentication and network encryption on and with Kryo
 * refusing unregistered classes (local mode: the settings are validated and the serializer path is
 * the cluster's; the RPC/block transfer between JVMs is exercised by the cluster test).
 */
class SecureSparkTest {
  @RegisterExtension
  static final SparkLocal SPARK =
      new SparkLocal(
          "local[2]",
          Map.of(
              "spark.authenticate", "true",
              "spark.authenticate.secret", "spindle-test-secret-" + System.nanoTime(),
              "spark.network.crypto.enabled", "true",
              "spark.io.encryption.enabled", "true"));

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"gradient_sharing", "parameter_averaging", "collective"})
  void trainsWithAuthenticationEncryptionAndRequiredKryoRegistration(
      String sync, @TempDir Path tmp) {
    var conf = SPARK.sc().getConf();
    assertEquals("true", conf.get("spark.kryo.registrationRequired"));
    assertEquals("true", conf.get("spark.authenticate"));
    assertEquals("true", conf.get("spark.network.crypto.enabled"));
    Map<String, Object> summary =
        TrainJob.run(
            SPARK.sc(),
            ConfigLoader.load(
                null,
                List.of(
                    "data.mirror=" + TestDatasets.mirror(),
                    "data.cacheDir=" + tmp.resolve("cache"),
                    "data.trainLimit=1000",
                    "model.layers=[{type: dense, units: 16, activation: relu},"
                        + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
                    "optimizer.learningRate=0.01",
                    "training.epochs=1",
                    "training.batchSize=100",
                    "cluster.sync=" + sync,
                    "cluster.roundSteps=5")),
            new RunOutput(tmp.resolve("run")),
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertEquals(10L, summary.get("steps"));
    assertTrue((Double) summary.get("test_accuracy") > 0.4, "accuracy " + summary);
  }
}
