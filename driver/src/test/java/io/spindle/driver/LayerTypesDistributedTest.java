package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.CompressionSpec;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.data.BatchLayout;
import io.spindle.data.DatasetDownloader;
import io.spindle.data.DatasetSpec;
import io.spindle.data.EpochPlan;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.driver.sync.GradientSharing;
import io.spindle.driver.sync.ParameterAveraging;
import io.spindle.model.MaxNorm;
import io.spindle.model.ModelFactory;
import io.spindle.model.RawUpdateRanges;
import io.spindle.model.Regularization;
import io.spindle.optim.FlatOptimizer;
import io.spindle.testing.TestDatasets;
import io.spindle.worker.MnistPartitionReader;
import io.spindle.worker.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A tiny CNN, a tiny LSTM and a CNN with batch normalisation trained a few steps on MNIST under
 * gradient sharing, parameter averaging and the collective engine (2 workers each). Without batch
 * normalisation, gradient sharing and the collective engine are exact: they must equal a single
 * process on the same global batches. Batch normalisation uses each worker's batch statistics, so
 * it does not equal a single process on whole batches; there the loss must be finite and fall, the
 * running statistics must move, and the collective engine must equal gradient sharing.
 */
class LayerTypesDistributedTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[2,3]");
  @TempDir static Path cache;
  static Map<String, Path> files;

  static final int LIMIT = 480;
  static final int BATCH = 40;
  static final int STEPS = 6;
  static final long SEED = 11;

  @BeforeAll
  static void fetch() {
    files =
        DatasetDownloader.fetch(
            DatasetSpec.named("mnist"), TestDatasets.mirror().toString(), cache);
  }

  static ModelConfig model(String kind, double maxNorm) {
    LayerConfig out = LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY);
    List<LayerConfig> layers =
        switch (kind) {
          case "cnn" ->
              List.of(
                  LayerConfig.conv2d(4, 5, 2, 0, Activation.RELU),
                  LayerConfig.pool(LayerType.MAX_POOL, 2, 2, 0),
                  out);
          case "lstm" ->
              List.of(
                  LayerConfig.recurrent(LayerType.LSTM, 8, Activation.TANH),
                  LayerConfig.of(LayerType.LAST_TIME_STEP),
                  out);
          case "bn" ->
              List.of(
                  LayerConfig.conv2d(4, 5, 2, 0, Activation.IDENTITY),
                  LayerConfig.of(LayerType.BATCH_NORM),
                  LayerConfig.pool(LayerType.MAX_POOL, 2, 2, 0),
                  out);
          default -> throw new IllegalArgumentException(kind);
        };
    // input inferred from 784 features: a 28x28x1 image for the CNNs, 28 steps of 28 for the LSTM
    return new ModelConfig(
        layers, WeightInit.XAVIER_UNIFORM, 0.0, 1e-4, Precision.FLOAT32, null, maxNorm);
  }

  static ModelSpec spec(ModelConfig model, OptimizerConfig optimizer) {
    return new ModelSpec(model, optimizer, 784, 10, SEED, 1);
  }

  static DistributedDataset data(int workers) {
    return DistributedDataset.idx(
        SPARK.sc(),
        uri("train-images-idx3-ubyte.gz"),
        uri("train-labels-idx1-ubyte.gz"),
        uri("t10k-images-idx3-ubyte.gz"),
        uri("t10k-labels-idx1-ubyte.gz"),
        10,
        LIMIT,
        BATCH,
        workers,
        SEED);
  }

  static String uri(String name) {
    return files.get(name).toUri().toString();
  }

  static final BatchLayout LAYOUT = new BatchLayout(LIMIT, BATCH, 2);

  static CollectiveSync collective() {
    return new CollectiveSync(SPARK.sc(), LAYOUT, 3, CompressionSpec.NONE, true, 60000, false);
  }

  /** {@code STEPS} global steps; returns the mean loss of every round. */
  static List<Double> train(ParameterSync sync, GlobalModel model) {
    List<Double> losses = new ArrayList<>();
    try (DistributedDataset data = data(2)) {
      assertTrue(EpochSource.of(data).layout().equals(LAYOUT), "the layout of data(2)");
      JavaRDD<MiniBatch> batches = data.epoch(0);
      long iteration = 0;
      int step = 0;
      while (iteration < STEPS) {
        RoundResult r = sync.round(batches, step, (int) (STEPS - iteration), iteration, model);
        step += r.steps();
        iteration += r.steps();
        losses.add(r.meanLoss());
      }
    }
    return losses;
  }

  /** The single-process reference on whole global batches. */
  static INDArray trainLocal(ModelSpec spec) {
    List<Example> all =
        MnistPartitionReader.read(
            uri("train-images-idx3-ubyte.gz"), uri("train-labels-idx1-ubyte.gz"), 10, 0, LIMIT);
    MultiLayerNetwork net = ModelFactory.create(spec.model(), 784, SEED);
    INDArray w = net.params();
    FlatOptimizer opt =
        FlatOptimizer.create(spec.optimizer(), w.length(), w.dataType())
            .rawUpdates(RawUpdateRanges.of(net));
    Regularization reg = Regularization.of(net, spec.model().l1(), spec.model().l2());
    MaxNorm maxNorm = MaxNorm.of(net, spec.model().maxNorm());
    EpochPlan plan = new EpochPlan(LIMIT, BATCH, 1, SEED, 0);
    for (int s = 0; s < STEPS; s++) {
      List<Example> batch = new ArrayList<>();
      for (int p = s * BATCH; p < s * BATCH + plan.stepSize(s); p++) {
        batch.add(all.get(plan.exampleAt(p)));
      }
      MiniBatch mb = MiniBatch.of(s, 784, batch);
      net.setInput(mb.featureArray(w.dataType()));
      net.setLabels(mb.oneHotLabels(w.dataType(), 10));
      net.computeGradientAndScore();
      INDArray g = net.getFlattenedGradients().dup().divi(mb.size());
      reg.addGradient(w, g);
      opt.step(w, g, s);
      maxNorm.apply(w);
    }
    return w.dup();
  }

  static double relativeError(INDArray actual, INDArray expected) {
    return actual.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
  }

  static void assertClose(INDArray actual, INDArray expected, String what) {
    double rel = relativeError(actual, expected);
    assertTrue(rel <= 1e-5, what + ": relative L2 error " + rel + " exceeds 1e-5");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"cnn", "lstm"})
  void gradientSharingAndCollectiveEqualSingleProcess(String kind) {
    ModelSpec spec = spec(model(kind, 0), OptimizerConfig.of(OptimizerType.ADAM, 3e-3));
    INDArray expected = trainLocal(spec);
    INDArray initial = ModelFactory.create(spec.model(), 784, SEED).params();
    assertTrue(relativeError(expected, initial) > 1e-3, "the reference must have moved");

    GlobalModel shared = new GlobalModel(spec);
    List<Double> losses = train(new GradientSharing(SPARK.sc(), LAYOUT), shared);
    assertClose(shared.params(), expected, kind + " gradient_sharing");
    assertTrue(losses.stream().allMatch(Double::isFinite), "losses " + losses);

    GlobalModel collective = new GlobalModel(spec);
    train(collective(), collective);
    assertClose(collective.params(), expected, kind + " collective");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"cnn", "lstm"})
  void parameterAveragingWithOneLocalSgdStepEqualsGradientSharing(String kind) {
    ModelSpec spec = spec(model(kind, 0), OptimizerConfig.of(OptimizerType.SGD, 0.1));
    GlobalModel shared = new GlobalModel(spec);
    train(new GradientSharing(SPARK.sc(), LAYOUT), shared);
    GlobalModel averaged = new GlobalModel(spec);
    List<Double> losses = train(new ParameterAveraging(SPARK.sc(), LAYOUT, 1), averaged);
    assertClose(averaged.params(), shared.params(), kind + " parameter_averaging");
    assertTrue(losses.stream().allMatch(Double::isFinite), "losses " + losses);
  }

  @Test
  void batchNormTrainsUnderEverySyncMode() {
    ModelSpec spec = spec(model("bn", 0), OptimizerConfig.of(OptimizerType.ADAM, 1e-2));
    GlobalModel fresh = new GlobalModel(spec);
    RawUpdateRanges stats = RawUpdateRanges.of(fresh.stack());
    assertTrue(stats.count() == 1, "one block of running statistics, got " + stats);
    INDArray before = runningStats(fresh.params(), stats);
    List<ParameterSync> syncs =
        List.of(
            new GradientSharing(SPARK.sc(), LAYOUT),
            new ParameterAveraging(SPARK.sc(), LAYOUT, 2),
            collective());
    List<INDArray> trained = new ArrayList<>();
    for (ParameterSync sync : syncs) {
      GlobalModel model = new GlobalModel(spec);
      List<Double> losses = train(sync, model);
      assertTrue(losses.stream().allMatch(Double::isFinite), sync.name() + " losses " + losses);
      assertTrue(
          losses.get(losses.size() - 1) < losses.get(0),
          sync.name() + ": loss did not fall: " + losses);
      INDArray after = runningStats(model.params(), stats);
      for (double v : after.toDoubleVector()) {
        assertTrue(Double.isFinite(v), sync.name() + ": running statistic " + v);
      }
      double moved = after.sub(before).norm2Number().doubleValue();
      assertTrue(moved > 1e-3, sync.name() + ": running statistics did not move: " + moved);
      trained.add(model.params());
    }
    // gradient sharing and the collective engine run the same algorithm (each worker's batch
    // statistics, one global step), so they agree to rounding
    assertClose(trained.get(2), trained.get(0), "bn collective vs gradient_sharing");
  }

  @Test
  void maxNormHoldsUnderGradientSharingAndCollective() {
    double c = 0.3;
    ModelSpec spec = spec(model("cnn", c), OptimizerConfig.of(OptimizerType.ADAM, 1e-2));
    GlobalModel unconstrained =
        new GlobalModel(spec(model("cnn", 0), OptimizerConfig.of(OptimizerType.ADAM, 1e-2)));
    MaxNorm probe = MaxNorm.of(unconstrained.stack(), c);
    assertTrue(probe.largestNorm(unconstrained.params()) > c, "the constraint must bind");

    GlobalModel shared = new GlobalModel(spec);
    train(new GradientSharing(SPARK.sc(), LAYOUT), shared);
    GlobalModel collective = new GlobalModel(spec);
    train(collective(), collective);
    for (GlobalModel m : List.of(shared, collective)) {
      double largest = probe.largestNorm(m.params());
      assertTrue(largest <= c * (1 + 1e-5), "largest unit norm " + largest + " > " + c);
      assertTrue(largest > c * 0.99, "the constraint should be active, largest " + largest);
    }
    assertClose(collective.params(), shared.params(), "collective vs gradient_sharing");
    assertClose(trainLocal(spec), shared.params(), "single process vs gradient_sharing");
  }

  private static INDArray runningStats(INDArray params, RawUpdateRanges stats) {
    return params
        .reshape(params.length())
        .get(org.nd4j.linalg.indexing.NDArrayIndex.interval(stats.from(0), stats.to(0)))
        .dup();
  }
}
