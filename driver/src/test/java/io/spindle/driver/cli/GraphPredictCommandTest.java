package io.spindle.driver.cli;

import static io.spindle.driver.cli.PredictCommandTest.cli;
import static io.spindle.driver.cli.PredictCommandTest.err;
import static io.spindle.driver.cli.PredictCommandTest.mnist;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.testing.TestDatasets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spindle evaluate} and {@code spindle predict} on a graph model ({@code ComputationGraph}
 * model.zip, a residual network on MNIST read as 28x28x1 images): both load it, and their accuracy
 * on the test set is the run's own test accuracy.
 */
class GraphPredictCommandTest {
  @TempDir static Path tmp;
  static Path run;

  static final String CONFIG =
      """
      model:
        input: {type: image, height: 28, width: 28, channels: 1}
        layers:
          - {name: c1, type: conv2d, filters: 8, kernel: 3, stride: 2, padding: 1, activation: relu}
          - {name: c2, type: conv2d, filters: 8, kernel: 3, padding: 1, activation: identity}
          - {name: sum, type: add, inputs: [c2, c1]}
          - {name: pool, type: max_pool, kernel: 2, stride: 2}
          - {name: fc, type: output, units: 10, activation: softmax, loss: cross_entropy}
      optimizer: {type: adam, learningRate: 0.005, weightDecay: 1.0e-4, weightDecayExclude: [bias]}
      training: {epochs: 1, batchSize: 128, accumulate: 2}
      cluster: {workers: 2, sync: gradient_sharing}
      """;

  @BeforeAll
  static void trainAShortGraphRun() throws Exception {
    run = tmp.resolve("run");
    Path config = tmp.resolve("graph.yaml");
    Files.writeString(config, CONFIG);
    int code =
        cli(
            "train",
            "--config",
            config.toString(),
            "--set",
            "data.mirror=" + TestDatasets.mirror(),
            "--set",
            "data.trainLimit=2048",
            "--output",
            run.toString());
    assertEquals(0, code, err());
    ComputationGraph g =
        ModelSerializer.restoreComputationGraph(run.resolve("model.zip").toFile(), false);
    assertEquals(4, g.getLayers().length, "a graph model.zip: two convolutions, pooling, output");
    assertEquals(
        "fc", g.getConfiguration().getNetworkOutputs().get(0), "the graph's named output layer");
  }

  @Test
  void evaluateLoadsAGraphModelAndGivesTheRunsTestAccuracy() throws Exception {
    assertEquals(0, cli("evaluate", "--model", run.toString()), err());
    JsonNode eval = new ObjectMapper().readTree(run.resolve("evaluation.json").toFile());
    JsonNode summary = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
    assertEquals(10_000, eval.get("examples").asLong());
    double accuracy = summary.get("test_accuracy").asDouble();
    assertTrue(accuracy > 0.5, "the short run learnt something: " + accuracy);
    assertEquals(accuracy, eval.get("accuracy").asDouble(), 1e-12);
    assertEquals(summary.get("test_loss").asDouble(), eval.get("loss").asDouble(), 1e-4);
  }

  @Test
  void predictLoadsAGraphModelAndGivesTheRunsTestAccuracy() throws Exception {
    Path pred = tmp.resolve("pred.parquet");
    assertEquals(
        0,
        cli("predict", "--model", run.toString(), "--input", mnist(), "--output", pred.toString()),
        err());
    double accuracy =
        new ObjectMapper()
            .readTree(run.resolve("summary.json").toFile())
            .get("test_accuracy")
            .asDouble();
    SparkSession spark = SparkSession.builder().master("local[1]").getOrCreate();
    try {
      Dataset<Row> rows = spark.read().parquet(pred.toString());
      assertEquals(10_000, rows.count());
      assertEquals(accuracy, rows.filter("prediction = label").count() / 10_000.0, 1e-12);
    } finally {
      spark.stop();
    }
  }
}
