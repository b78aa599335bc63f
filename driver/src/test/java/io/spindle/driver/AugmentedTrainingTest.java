package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.CifarGenerator;
import io.spindle.driver.job.TrainJob;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-epoch augmentation in a real training run (a CNN on generated files in the CIFAR-10 layout,
 * the collective engine, 2 workers): the run trains and evaluates with the augmented pipeline,
 * learns the generated classes, and reports top-1 and top-5 test accuracy.
 */
class AugmentedTrainingTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void aCnnTrainsOnAugmentedCifarLayoutAndReportsTopFive(@TempDir Path tmp) throws Exception {
    Path data = CifarGenerator.write(tmp.resolve("cifar-10-batches-bin"), 400, 7);
    SpindleConfig config =
        ConfigLoader.load(
            null,
            List.of(
                "data.dataset=cifar10",
                "data.path=" + data.toUri(),
                "data.augment={crop: padded, padding: 4, flip: true,"
                    + " mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26]}",
                "model.layers=[{type: conv2d, filters: 8, kernel: 3, padding: 1, activation: relu},"
                    + " {type: max_pool, kernel: 4},"
                    + " {type: conv2d, filters: 16, kernel: 3, padding: 1, activation: relu},"
                    + " {type: global_avg_pool},"
                    + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
                "optimizer.learningRate=0.01",
                "training.epochs=3",
                "training.batchSize=50",
                "training.logEvery=10",
                "cluster.sync=collective"));
    Path out = tmp.resolve("run");
    TrainJob.run(
        SPARK.sc(), config, new RunOutput(out), new PrintStream(new ByteArrayOutputStream()));
    JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
    assertEquals(3, s.get("epochs").asInt());
    assertEquals(120, s.get("steps").asInt());
    double top1 = s.get("test_accuracy").asDouble();
    double top5 = s.get("test_top5_accuracy").asDouble();
    assertTrue(top1 > 0.3, "the generated classes are learnable; top-1 " + top1);
    assertTrue(top5 >= top1 && top5 > 0.7, "top-5 " + top5 + ", top-1 " + top1);
    List<String> epochs =
        Files.readAllLines(out.resolve("metrics.jsonl")).stream()
            .filter(l -> l.contains("\"type\":\"epoch\""))
            .toList();
    assertEquals(3, epochs.size());
    assertTrue(epochs.get(2).contains("\"test_top5_accuracy\""), epochs.get(2));
  }
}
