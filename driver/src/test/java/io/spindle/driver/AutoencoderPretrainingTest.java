package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.MiniBatch;
import io.spindle.driver.data.DatasetFiles;
import io.spindle.driver.data.DatasetLoader;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.job.TrainJob;
import io.spindle.driver.pretrain.LayerwisePretraining;
import io.spindle.driver.sync.SyncStrategies;
import io.spindle.model.ModelFactory;
import io.spindle.testing.TestDatasets;
import io.spindle.worker.ModelSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Greedy layer-wise autoencoder pre-training on 2 workers, through the run's sync strategy: the
 * autoencoders learn, their encoders are what the classifier starts from, the whole run goes end to
 * end (and resumes), and pre-training helps on a small subset.
 */
class AutoencoderPretrainingTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();
  private static final ObjectMapper JSON = new ObjectMapper();

  private static SpindleConfig config(Path tmp, String... overrides) {
    List<String> all =
        new ArrayList<>(
            List.of(
                "data.mirror=" + TestDatasets.mirror(),
                "data.cacheDir=" + tmp.resolve("cache"),
                "data.trainLimit=2000",
                "model.weightInit=xavier_uniform",
                "training.batchSize=50",
                "training.logEvery=1000",
                "checkpoint.everyEpoch=false",
                "cluster.workers=2",
                "pretrain.enabled=true"));
    all.addAll(List.of(overrides));
    return ConfigLoader.load(null, all);
  }

  private static DistributedDataset load(SpindleConfig config) {
    return DatasetLoader.load(
        SPARK.sc(),
        config.data(),
        DatasetFiles.root(config, DatasetFiles.fetch(config)),
        config.training().batchSize(),
        config.cluster().workers(),
        config.training().seed());
  }

  private static ModelSpec classifier(SpindleConfig config, DistributedDataset data) {
    return new ModelSpec(
        config.model(),
        config.optimizer(),
        data.numFeatures(),
        data.numClasses(),
        config.training().seed(),
        1);
  }

  private static String[] concat(String[] a, String... b) {
    List<String> all = new ArrayList<>(List.of(a));
    all.addAll(List.of(b));
    return all.toArray(String[]::new);
  }

  /** Runs the job writing to {@code out}; what it printed. */
  private static String console(SpindleConfig config, Path out) {
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    TrainJob.run(
        SPARK.sc(),
        config,
        new RunOutput(out),
        new PrintStream(console, true, StandardCharsets.UTF_8));
    return console.toString(StandardCharsets.UTF_8);
  }

  /** Runs each phase through the training loop with its own listeners only. */
  private static TrainingPhase.Runner loop(SpindleConfig config) {
    return phase ->
        new TrainingCoordinator(
                phase.data(),
                phase.model(),
                SyncStrategies.create(
                    SPARK.sc(),
                    config.cluster(),
                    config.model().precision(),
                    phase.data().layout()),
                phase.evaluator(),
                phase.listeners(),
                phase.epochs(),
                phase.maxSteps())
            .fit(new TrainingState());
  }

  private static PrintStream quiet() {
    return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"collective", "gradient_sharing"})
  void autoencoderReducesReconstructionErrorWellBelowItsStart(String sync, @TempDir Path tmp) {
    SpindleConfig config =
        config(
            tmp,
            "cluster.sync=" + sync,
            // relu: the encoder is Spindle's activation-reusing layer, which computes no input
            // gradient (an autoencoder needs none); sigmoid encoders sit on the mean-image
            // plateau (MSE 0.068) for longer than this test runs
            "model.layers=[{type: dense, units: 32, activation: relu},"
                + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
            "optimizer.type=adam",
            "optimizer.learningRate=0.003",
            "training.batchSize=20",
            "pretrain.epochsPerLayer=3",
            "pretrain.maskProbability=0",
            "pretrain.loss=mse");
    try (DistributedDataset data = load(config)) {
      GlobalModel model = new GlobalModel(classifier(config, data));
      LayerwisePretraining.Result result =
          new LayerwisePretraining(SPARK.sc(), config, data, 1).run(model, loop(config));
      LayerwisePretraining.LayerResult layer = result.layers().get(0);
      assertEquals(3 * data.stepsPerEpoch(), layer.steps());
      // the untrained sigmoid decoder outputs about 0.5 everywhere: MSE 0.23 on MNIST (measured:
      // 0.032 after 300 steps, against 0.067 for the mean image)
      assertTrue(layer.initialTestLoss() > 0.1, "initial " + layer.initialTestLoss());
      assertTrue(
          layer.testLoss() < 0.4 * layer.initialTestLoss(),
          "test reconstruction MSE " + layer.testLoss() + " from " + layer.initialTestLoss());
      assertTrue(layer.trainLoss() < 0.5 * layer.initialTestLoss(), "train " + layer.trainLoss());
      // and below the best input-independent reconstruction, the mean test image
      double meanImage = meanImageMse(data.test());
      System.out.printf(
          "%s: reconstruction MSE %.4f from %.4f; mean image %.4f%n",
          sync, layer.testLoss(), layer.initialTestLoss(), meanImage);
      assertTrue(layer.testLoss() < 0.7 * meanImage, layer.testLoss() + " vs " + meanImage);
    }
  }

  /** The MSE of reconstructing every image as the mean image: the mean pixel variance. */
  private static double meanImageMse(org.apache.spark.api.java.JavaRDD<MiniBatch> test) {
    double[] s =
        test.map(
                b -> {
                  int d = b.numFeatures();
                  double[] out = new double[2 * d + 1];
                  float[] x = b.features();
                  for (int i = 0; i < b.size(); i++) {
                    for (int j = 0; j < d; j++) {
                      double v = x[i * d + j];
                      out[j] += v;
                      out[d + j] += v * v;
                    }
                  }
                  out[2 * d] = b.size();
                  return out;
                })
            .reduce(
                (a, b) -> {
                  double[] c = a.clone();
                  for (int i = 0; i < c.length; i++) {
                    c[i] += b[i];
                  }
                  return c;
                });
    int d = (s.length - 1) / 2;
    double n = s[2 * d];
    double total = 0;
    for (int j = 0; j < d; j++) {
      double mean = s[j] / n;
      total += s[d + j] / n - mean * mean;
    }
    return total / d;
  }

  /** First-layer activations of the classifier against those of the trained encoders. */
  private static void assertEncodesLike(
      MultiLayerNetwork classifier, LayerwisePretraining.Result pretrained, INDArray x, float tol) {
    List<INDArray> acts = classifier.feedForward(x, false);
    INDArray expected = pretrained.encoders().encode(x);
    int depth = pretrained.encoders().depth();
    assertArrayEquals(
        expected.dup('c').data().asFloat(), acts.get(depth).dup('c').data().asFloat(), tol);
  }

  @Test
  void pretrainedEncodersAreWhatTheClassifierStartsFrom(@TempDir Path tmp) throws Exception {
    String[] overrides = {
      "cluster.sync=collective",
      "model.layers=[{type: dense, units: 24, activation: sigmoid},"
          + " {type: dense, units: 16, activation: sigmoid},"
          + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
      // fine-tuning moves nothing measurable; pre-training runs at its own rate
      "optimizer.type=sgd",
      "optimizer.learningRate=1.0e-12",
      "pretrain.learningRate=0.5",
      "pretrain.epochsPerLayer=1",
      "pretrain.loss=binary_cross_entropy",
      "training.epochs=1",
      "training.maxSteps=1"
    };
    SpindleConfig config = config(tmp, overrides);
    LayerwisePretraining.Result pretrained;
    INDArray x;
    INDArray initialOutputW;
    try (DistributedDataset data = load(config)) {
      ModelSpec spec = classifier(config, data);
      GlobalModel model = new GlobalModel(spec);
      INDArray init = model.params().dup();
      pretrained = new LayerwisePretraining(SPARK.sc(), config, data, 1).run(model, loop(config));
      assertEquals(2, pretrained.layers().size());
      MultiLayerNetwork net = model.stack();
      MiniBatch batch = data.test().first();
      x = batch.featureArray(DataType.FLOAT);
      // the hidden layers are the encoders (orientation and order included), nothing else moved
      assertEncodesLike(net, pretrained, x, 1e-6f);
      MultiLayerNetwork fresh = ModelFactory.create(config.model(), 784, config.training().seed());
      for (int k = 0; k < 2; k++) {
        assertFalse(
            fresh.getLayer(k).getParam("W").equalsWithEps(net.getLayer(k).getParam("W"), 1e-3),
            "layer " + k + " was not pre-trained");
      }
      assertEquals(fresh.getLayer(2).getParam("W"), net.getLayer(2).getParam("W"));
      assertEquals(init.length(), model.params().length());
      initialOutputW = fresh.getLayer(2).getParam("W");
      for (LayerwisePretraining.LayerResult r : pretrained.layers()) {
        assertTrue(r.testLoss() < r.initialTestLoss(), r.toString());
      }
    }

    // the same pre-training inside a run (deterministic), then one fine-tuning step at a rate
    // too small to move a float32 weight: the saved classifier holds the pre-trained encoders.
    // The run asks to resume but finds no checkpoint (of training nor of pre-training): it says so
    // and pre-trains from the first layer, to the same weights.
    Path out = tmp.resolve("run");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    Map<String, Object> summary =
        TrainJob.run(
            SPARK.sc(),
            config(tmp, concat(overrides, "checkpoint.resume=auto")),
            new RunOutput(out),
            new PrintStream(console, true, StandardCharsets.UTF_8));
    MultiLayerNetwork saved =
        ModelSerializer.restoreMultiLayerNetwork(out.resolve("model.zip").toFile());
    assertEncodesLike(saved, pretrained, x, 1e-6f);
    assertEquals(initialOutputW, saved.getLayer(2).getParam("W"));
    assertEquals(2, ((List<?>) summary.get("pretrain_layers")).size());
    String text = console.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("pretraining layer 1/2 (784 -> 24): no valid checkpoint in"), text);
    assertTrue(text.contains("pretraining layer 1/2"), text);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"collective", "gradient_sharing"})
  void greedyPretrainingThenFineTuningRunsEndToEndAndResumes(String sync, @TempDir Path tmp)
      throws Exception {
    String[] overrides = {
      "cluster.sync=" + sync,
      "model.layers=[{type: dense, units: 48, activation: sigmoid},"
          + " {type: dense, units: 32, activation: sigmoid},"
          + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
      "optimizer.type=momentum",
      "optimizer.learningRate=0.1",
      "pretrain.epochsPerLayer=1",
      "pretrain.maskProbability=0.2",
      "pretrain.gaussianSigma=0.05",
      "training.epochs=2",
      "checkpoint.everyEpoch=true"
    };
    Path out = tmp.resolve("run");
    String text = console(config(tmp, overrides), out);
    assertTrue(text.contains("pretraining layer 1/2 (784 -> 48), epoch 1/1"), text);
    assertTrue(text.contains("pretraining layer 2/2 (48 -> 32), epoch 1/1"), text);
    JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
    assertEquals(sync, s.get("sync").asText());
    assertEquals(2, s.get("pretrain_layers").size());
    for (JsonNode layer : s.get("pretrain_layers")) {
      assertEquals(40, layer.get("steps").asInt());
      assertTrue(
          layer.get("test_loss").asDouble() < layer.get("initial_test_loss").asDouble(),
          layer.toString());
    }
    // sigmoid layers, 80 steps of momentum SGD: far above chance (0.1), far from converged
    assertTrue(s.get("test_accuracy").asDouble() > 0.5, "accuracy " + s.get("test_accuracy"));
    assertEquals(80, s.get("steps").asInt());

    // resuming from the fine-tuning checkpoint keeps its (pre-trained, fine-tuned) weights
    String again =
        console(config(tmp, concat(overrides, "training.epochs=3", "checkpoint.resume=auto")), out);
    assertTrue(again.contains("pretraining is skipped"), again);
    assertFalse(again.contains("pretraining layer"), again);
    JsonNode s2 = JSON.readTree(out.resolve("summary.json").toFile());
    assertEquals(120, s2.get("steps").asInt());
    assertTrue(s2.get("pretrain_skipped_on_resume").asBoolean());
  }

  /** Stops the run (as a crash would) in pre-training phase {@code phase} after step {@code at}. */
  private static final class StopDuringPretraining implements TrainingListener {
    private final int phase;
    private final long at;
    private int started;

    StopDuringPretraining(int phase, long at) {
      this.phase = phase;
      this.at = at;
    }

    @Override
    public void onStart(GlobalModel model, int stepsPerEpoch) {
      started++;
    }

    @Override
    public void onRound(TrainingState state, RoundResult round) {
      if (started == phase && state.globalStep() >= at) {
        throw new IllegalStateException("stopped by the test at step " + state.globalStep());
      }
    }
  }

  /** The newest checkpoint of {@code dir}. */
  private static io.spindle.driver.checkpoint.Checkpoint newest(Path dir) {
    io.spindle.driver.checkpoint.CheckpointStore store =
        io.spindle.driver.checkpoint.CheckpointStore.open(
            dir.toUri().toString(), new org.apache.hadoop.conf.Configuration());
    return store.read(store.pathOf(store.steps().get(0)));
  }

  /** The learning rate of pre-training step records of {@code phase} at {@code globalStep}. */
  private static double pretrainingRate(Path run, String phase, long globalStep) throws Exception {
    for (String line : java.nio.file.Files.readAllLines(run.resolve("metrics.jsonl"))) {
      JsonNode rec = JSON.readTree(line);
      if (rec.path("type").asText().equals("step")
          && rec.path("phase").asText().equals(phase)
          && rec.path("global_step").asLong() == globalStep) {
        return rec.path("learning_rate").asDouble();
      }
    }
    throw new AssertionError("no step record of " + phase + " at global step " + globalStep);
  }

  /**
   * A schedule stretched over the run ({@code steps: 0}) and the linear scaling rule ({@code
   * referenceBatch}) are resolved for each autoencoder's own run (before, pre-training handed them
   * over unresolved and failed); and a run stopped during the second layer's pre-training resumes
   * from that layer's checkpoint, takes the first layer from its final checkpoint, and ends bit for
   * bit where an uninterrupted run ends.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "{type: linear, steps: 0, finalRate: 0.0, warmupSteps: 2}",
        "{type: constant, referenceBatch: 100}"
      })
  void pretrainingResolvesTheScheduleAndResumesExactlyFromItsCheckpoints(
      String schedule, @TempDir Path tmp) throws Exception {
    String[] overrides = {
      "data.trainLimit=600", // batch 50: 12 steps per epoch
      "cluster.sync=collective",
      "cluster.roundSteps=4",
      "model.layers=[{type: dense, units: 16, activation: sigmoid},"
          + " {type: dense, units: 8, activation: sigmoid},"
          + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
      "optimizer.type=momentum",
      "optimizer.learningRate=0.1",
      "optimizer.schedule=" + schedule,
      "pretrain.epochsPerLayer=2",
      "pretrain.maskProbability=0.2",
      "training.epochs=1",
      "checkpoint.everySteps=5",
      "checkpoint.keepLast=20"
    };
    Path whole = tmp.resolve("whole");
    TrainJob.run(SPARK.sc(), config(tmp, overrides), new RunOutput(whole), quiet());
    // the schedule of each layer's 24 steps: linear with T = 24 - 2 over the layer (step 23 uses
    // a_0 (1 - 21/22)); the scaling rule halves the rate for a global batch of 50
    double expected = schedule.contains("linear") ? 0.1 / 22 : 0.05;
    for (String phase : List.of("pretrain-layer-1", "pretrain-layer-2")) {
      assertEquals(expected, pretrainingRate(whole, phase, 24), 1e-12, phase);
    }

    Path parts = tmp.resolve("parts");
    IllegalStateException stop =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class,
            () ->
                TrainJob.run(
                    SPARK.sc(),
                    config(tmp, overrides),
                    DatasetFiles.fetch(config(tmp, overrides)),
                    new RunOutput(parts),
                    quiet(),
                    List.of(new StopDuringPretraining(2, 18))));
    assertTrue(stop.getMessage().contains("stopped by the test at step 20"), stop.getMessage());
    assertEquals(20, newest(parts.resolve("checkpoints/pretrain-layer-2")).globalStep());
    assertFalse(java.nio.file.Files.exists(parts.resolve("summary.json")));

    String text = console(config(tmp, concat(overrides, "checkpoint.resume=auto")), parts);
    assertTrue(text.contains("pretraining layer 1/2 (784 -> 16): complete"), text);
    assertTrue(text.contains("pretraining layer 2/2 (16 -> 8): resuming from"), text);
    assertTrue(text.contains("global step 20, epoch 2, step 8 of the epoch"), text);
    ExactResumeTest.assertSameState(
        newest(whole.resolve("checkpoints/pretrain-layer-2")),
        newest(parts.resolve("checkpoints/pretrain-layer-2")));
    ExactResumeTest.assertSameState(ExactResumeTest.last(whole), ExactResumeTest.last(parts));
  }

  /**
   * The reference result in small: on 2,000 MNIST examples, the same sigmoid net with the same
   * fine-tuning budget is clearly better on the test set after denoising pre-training (measured:
   * 0.826 vs 0.711 with seed 42, 0.835 vs 0.674 with seed 7).
   */
  @Test
  void pretrainingBeatsTheSameNetWithoutItOnASmallSubset(@TempDir Path tmp) {
    String[] overrides = {
      "cluster.sync=collective",
      "model.layers=[{type: dense, units: 100, activation: sigmoid},"
          + " {type: dense, units: 100, activation: sigmoid},"
          + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
      "optimizer.type=momentum",
      "optimizer.learningRate=0.05",
      "pretrain.epochsPerLayer=4",
      "pretrain.maskProbability=0.25",
      "pretrain.loss=binary_cross_entropy",
      "training.epochs=3"
    };
    Map<String, Object> with =
        TrainJob.run(
            SPARK.sc(), config(tmp, overrides), new RunOutput(tmp.resolve("with")), quiet());
    Map<String, Object> without =
        TrainJob.run(
            SPARK.sc(),
            config(tmp, concat(overrides, "pretrain.enabled=false")),
            new RunOutput(tmp.resolve("without")),
            quiet());
    double a = (Double) with.get("test_accuracy");
    double b = (Double) without.get("test_accuracy");
    System.out.printf("pretraining helps: %.4f with, %.4f without%n", a, b);
    assertTrue(a > b + 0.05, "with pre-training " + a + ", without " + b);
    assertFalse(without.containsKey("pretrain_layers"));
  }
}
