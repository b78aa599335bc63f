package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigException;
import io.spindle.data.CifarGenerator;
import io.spindle.driver.checkpoint.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A graph model (a residual network with a projection shortcut, batch norm and a zero-initialised
 * last batch-norm scale) trained by the one training job on generated files in the CIFAR-10 binary
 * layout with per-epoch augmentation (padded crop, flip, normalisation): under every sync mode and
 * the ZeRO-1 shard, a run stopped mid-epoch and resumed from its checkpoints ends with the
 * parameters and optimiser state of an uninterrupted run, bit for bit; its {@code model.zip} is a
 * plain DL4J {@code ComputationGraph} holding the final parameters.
 */
class GraphTrainingTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2]");

  static final String RESIDUAL =
      "model.layers=["
          + "{name: stem, type: conv2d, filters: 4, kernel: 3, padding: 1, activation: identity,"
          + " bias: false},"
          + " {name: stem_bn, type: batch_norm},"
          + " {name: stem_act, type: activation, activation: relu},"
          + " {name: c1, type: conv2d, filters: 8, kernel: 3, stride: 2, padding: 1,"
          + " activation: identity, bias: false},"
          + " {name: c1_bn, type: batch_norm},"
          + " {name: c1_act, type: activation, activation: relu},"
          + " {name: c2, type: conv2d, filters: 8, kernel: 3, padding: 1, activation: identity,"
          + " bias: false},"
          + " {name: c2_bn, type: batch_norm, zeroGamma: true},"
          + " {name: proj, type: conv2d, filters: 8, kernel: 1, stride: 2, activation: identity,"
          + " bias: false, inputs: [stem_act]},"
          + " {name: proj_bn, type: batch_norm},"
          + " {name: sum, type: add, inputs: [c2_bn, proj_bn]},"
          + " {name: out, type: activation, activation: relu},"
          + " {type: global_avg_pool},"
          + " {type: output, units: 10, activation: softmax, loss: cross_entropy,"
          + " labelSmoothing: 0.1}]";

  /** 400 generated CIFAR-layout training images, batch 50: 8 steps per epoch, 2 epochs. */
  static List<String> settings(Path tmp, String sync) throws Exception {
    Path data = tmp.resolve("cifar-10-batches-bin");
    if (!Files.exists(data)) {
      CifarGenerator.write(data, 80, 7); // 5 training files of 80: 400 images
    }
    return new ArrayList<>(
        List.of(
            "data.dataset=cifar10",
            "data.path=" + data.toUri(),
            "data.augment={crop: padded, padding: 4, flip: true,"
                + " mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26]}",
            RESIDUAL,
            "model.l2=1e-4",
            "optimizer.type=nesterov",
            "optimizer.learningRate=0.05",
            "optimizer.momentum=0.9",
            "training.epochs=2",
            "training.batchSize=50",
            "training.logEvery=2",
            "cluster.sync=" + sync,
            "cluster.averagingSteps=2",
            "cluster.roundSteps=2",
            "checkpoint.everySteps=2",
            "checkpoint.keepLast=20"));
  }

  static Map<String, Object> train(Path out, List<String> settings, String... more) {
    return ExactResumeTest.train(SPARK.sc(), out, settings, more);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "gradient_sharing",
        "parameter_averaging",
        "collective",
        "collective, cluster.shardOptimizer=false"
      })
  void aGraphModelStoppedMidEpochAndResumedEqualsAnUninterruptedRun(String mode, @TempDir Path tmp)
      throws Exception {
    String[] parts = mode.split(", ");
    List<String> s = settings(tmp, parts[0]);
    if (parts.length > 1) {
      s.add(parts[1]);
    }
    Path whole = tmp.resolve("whole");
    Map<String, Object> wholeSummary = train(whole, s);
    assertEquals(16L, wholeSummary.get("steps"));

    Path legs = tmp.resolve("legs");
    train(legs, s, "training.maxSteps=6"); // mid-epoch 1
    assertEquals(6, ExactResumeTest.last(legs).globalStep());
    train(legs, s, "training.maxSteps=12", "checkpoint.resume=auto");
    assertEquals(12, ExactResumeTest.last(legs).globalStep()); // mid-epoch 2
    Map<String, Object> summary = train(legs, s, "checkpoint.resume=auto");

    assertEquals(16L, summary.get("steps"));
    Checkpoint end = ExactResumeTest.last(whole);
    ExactResumeTest.assertSameState(end, ExactResumeTest.last(legs));
    assertEquals(wholeSummary.get("test_accuracy"), summary.get("test_accuracy"));

    ComputationGraph saved =
        ModelSerializer.restoreComputationGraph(legs.resolve("model.zip").toFile(), false);
    INDArray params = end.params();
    assertEquals(params.length(), saved.numParams());
    assertEquals(
        0.0,
        saved.params().castTo(params.dataType()).sub(params).amaxNumber().doubleValue(),
        "model.zip holds the final parameters");
    INDArray x = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 3 * 32 * 32);
    assertEquals(10, saved.outputSingle(false, x).columns());
  }

  @Test
  void layerwisePretrainingOfAGraphModelIsRefused(@TempDir Path tmp) throws Exception {
    List<String> s = settings(tmp, "gradient_sharing");
    ConfigException e =
        assertThrows(
            ConfigException.class, () -> train(tmp.resolve("run"), s, "pretrain.enabled=true"));
    assertTrue(e.getMessage().contains("graph"), e.getMessage());
  }
}
