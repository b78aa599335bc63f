package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.OptimizerType;
import io.spindle.config.SpindleConfig;
import io.spindle.data.CifarGenerator;
import io.spindle.driver.job.TrainJob;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CIFAR recipe end to end: {@code deploy/examples/cifar10-resnet20.yaml} as shipped (ResNet-20
 * with option A shortcuts, Nesterov momentum, weight decay, step schedule, padded crop and flip,
 * batch 128, 2 workers, the collective engine with the ZeRO-1 shard), run by the training job on
 * generated files in the official CIFAR-10 binary layout ({@code data_batch_1.bin} ... {@code
 * test_batch.bin}; CIFAR-10 itself cannot be fetched here). Only the data path and the run's length
 * are overridden: 4 global steps across two epochs of 300 images.
 */
class CifarRecipeTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2]");
  static final Path RECIPE = Path.of("..", "deploy", "examples", "cifar10-resnet20.yaml");

  @Test
  void theResnet20RecipeRunsEndToEndOnTheCifar10BinaryLayout(@TempDir Path tmp) throws Exception {
    Path data = CifarGenerator.write(tmp.resolve("cifar-10-batches-bin"), 60, 3);
    for (String f : List.of("data_batch_1.bin", "data_batch_5.bin", "test_batch.bin")) {
      assertTrue(Files.exists(data.resolve(f)), "official layout: " + f);
    }
    SpindleConfig config =
        ConfigLoader.load(
            RECIPE,
            List.of("data.path=" + data.toUri(), "training.maxSteps=4", "training.logEvery=1"));
    assertEquals("resnet20", config.model().preset().name());
    assertEquals(OptimizerType.NESTEROV, config.optimizer().type());
    assertEquals(128, config.training().batchSize());
    assertTrue(config.model().isGraph());
    Path out = tmp.resolve("run");
    TrainJob.run(
        SPARK.sc(),
        config,
        new RunOutput(out),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

    JsonNode s = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    assertEquals(4, s.get("steps").asInt());
    assertEquals(2, s.get("epochs").asInt(), "300 images in batches of 128: 3 steps per epoch");
    double loss = s.get("test_loss").asDouble();
    assertTrue(Double.isFinite(loss) && loss > 0, "test loss " + loss);
    double top1 = s.get("test_accuracy").asDouble();
    double top5 = s.get("test_top5_accuracy").asDouble();
    assertTrue(top1 >= 0 && top5 >= top1 && top5 <= 1, "top-1 " + top1 + ", top-5 " + top5);
    List<String> stepRecords =
        Files.readAllLines(out.resolve("metrics.jsonl")).stream()
            .filter(l -> l.contains("\"type\":\"step\""))
            .toList();
    assertTrue(!stepRecords.isEmpty(), "step records in metrics.jsonl");
    String lastStep = stepRecords.get(stepRecords.size() - 1);
    assertTrue(lastStep.contains("\"global_step\":4"), lastStep);
    ComputationGraph saved =
        ModelSerializer.restoreComputationGraph(out.resolve("model.zip").toFile(), false);
    assertEquals(19, convolutions(saved), "ResNet-20: 19 convolutions and a dense output");
  }

  private static int convolutions(ComputationGraph net) {
    int n = 0;
    for (org.deeplearning4j.nn.api.Layer l : net.getLayers()) {
      if (l.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.ConvolutionLayer) {
        n++;
      }
    }
    return n;
  }
}
