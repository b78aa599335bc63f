package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
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
import io.spindle.driver.sync.GradientSharing;
import io.spindle.driver.sync.ParameterAveraging;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ModelFactory;
import io.spindle.model.Regularization;
import io.spindle.model.StepKey;
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
 * Distributed equals local: N Spark workers must end with the parameters a single process reaches
 * on the same global batches (the reference loop below shares no code with the Spark path but the
 * network, the optimiser and the epoch order).
 */
class DistributedEqualsLocalTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();

  @TempDir static Path cache;
  static Map<String, Path> files;

  /** Lets another test class reuse these helpers with its own Spark context. */
  static SparkLocal SPARK_OVERRIDE;

  static final int LIMIT = 1200;
  static final int BATCH = 50;
  static final int STEPS = 50; // 24 steps per epoch: crosses two reshuffles
  static final long SEED = 7;

  @BeforeAll
  static void fetch() {
    use(SPARK, cache);
  }

  /** Points these helpers at {@code spark} and MNIST fetched from the mirror into {@code cache}. */
  static void use(SparkLocal spark, Path cache) {
    SPARK_OVERRIDE = spark;
    files =
        DatasetDownloader.fetch(
            DatasetSpec.named("mnist"), TestDatasets.mirror().toString(), cache);
  }

  static ModelConfig model(double l2) {
    return new ModelConfig(
        List.of(
            LayerConfig.dense(32, Activation.RELU),
            LayerConfig.dense(16, Activation.TANH),
            LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY)),
        WeightInit.XAVIER_UNIFORM,
        0.0,
        l2,
        Precision.FLOAT32);
  }

  static ModelSpec spec(ModelConfig model, OptimizerConfig optimizer) {
    return new ModelSpec(model, optimizer, 784, 10, SEED, 1);
  }

  static DistributedDataset data(int workers) {
    return data(workers, BATCH);
  }

  /** The first {@link #LIMIT} examples in global batches of {@code batch} (0 = full batch). */
  static DistributedDataset data(int workers, int batch) {
    return DistributedDataset.idx(
        SPARK_OVERRIDE.sc(),
        uri("train-images-idx3-ubyte.gz"),
        uri("train-labels-idx1-ubyte.gz"),
        uri("t10k-images-idx3-ubyte.gz"),
        uri("t10k-labels-idx1-ubyte.gz"),
        10,
        LIMIT,
        batch,
        workers,
        SEED);
  }

  static String uri(String name) {
    return files.get(name).toUri().toString();
  }

  /** How {@code data}'s global batches are split over its workers. */
  static BatchLayout layout(DistributedDataset data) {
    return EpochSource.of(data).layout();
  }

  /** Runs {@code steps} global steps of {@code sync} over the epochs of {@code data}. */
  static INDArray trainDistributed(ParameterSync sync, DistributedDataset data, GlobalModel model) {
    return trainDistributed(sync, data, model, STEPS);
  }

  static INDArray trainDistributed(
      ParameterSync sync, DistributedDataset data, GlobalModel model, int steps) {
    long iteration = 0;
    for (int epoch = 0; iteration < steps; epoch++) {
      JavaRDD<MiniBatch> batches = data.epoch(epoch);
      int step = 0;
      while (step < data.stepsPerEpoch() && iteration < steps) {
        int left = (int) Math.min(data.stepsPerEpoch() - step, steps - iteration);
        RoundResult r = sync.round(batches, step, left, iteration, model);
        step += r.steps();
        iteration += r.steps();
      }
    }
    return model.params().dup();
  }

  /** The single-process reference: whole global batches on one network, one optimiser. */
  static INDArray trainLocal(ModelSpec spec) {
    return trainLocal(spec, BATCH, STEPS);
  }

  /** The reference with global batches of {@code batch} examples for {@code steps} steps. */
  static INDArray trainLocal(ModelSpec spec, int batch, int steps) {
    List<Example> all =
        MnistPartitionReader.read(
            uri("train-images-idx3-ubyte.gz"), uri("train-labels-idx1-ubyte.gz"), 10, 0, LIMIT);
    MultiLayerNetwork net = ModelFactory.create(spec.model(), 784, SEED);
    INDArray w = net.params();
    FlatOptimizer opt = FlatOptimizer.create(spec.optimizer(), w.length(), w.dataType());
    Regularization reg = Regularization.of(net, spec.model().l1(), spec.model().l2());
    long iteration = 0;
    for (int epoch = 0; iteration < steps; epoch++) {
      EpochPlan plan = new EpochPlan(LIMIT, batch, 1, SEED, epoch);
      for (int s = 0; s < plan.stepsPerEpoch() && iteration < steps; s++) {
        List<Example> examples = new ArrayList<>();
        for (int p = s * batch; p < s * batch + plan.stepSize(s); p++) {
          examples.add(all.get(plan.exampleAt(p)));
        }
        MiniBatch mb = MiniBatch.of(s, 784, examples);
        // one share holds the whole global batch: its first example is the batch's first
        KeyedDropout.key(net, new StepKey(SEED, iteration, 0));
        net.setInput(mb.featureArray(w.dataType()));
        net.setLabels(mb.oneHotLabels(w.dataType(), 10));
        net.computeGradientAndScore();
        INDArray g = net.getFlattenedGradients().dup().divi(mb.size());
        reg.addGradient(w, g);
        opt.step(w, g, iteration++);
      }
    }
    return w.dup();
  }

  static double relativeError(INDArray actual, INDArray expected) {
    return actual.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
  }

  static double maxAbsError(INDArray actual, INDArray expected) {
    return actual.sub(expected).amaxNumber().doubleValue();
  }

  @ParameterizedTest(name = "{0} workers")
  @ValueSource(ints = {2, 4})
  void gradientSharingWithAdamEqualsSingleProcess(int workers) {
    ModelSpec spec = spec(model(1e-4), OptimizerConfig.of(OptimizerType.ADAM, 1e-3));
    INDArray expected = trainLocal(spec);
    INDArray actual;
    try (DistributedDataset data = data(workers)) {
      actual =
          trainDistributed(
              new GradientSharing(SPARK.sc(), layout(data)), data, new GlobalModel(spec));
    }
    INDArray initial = ModelFactory.create(spec.model(), 784, SEED).params();
    assertTrue(
        relativeError(expected, initial) > 1e-2, "the reference must have moved the parameters");
    double rel = relativeError(actual, expected);
    assertTrue(rel <= 1e-5, "relative L2 error " + rel + " exceeds 1e-5");
    double scale = expected.amaxNumber().doubleValue();
    assertTrue(
        maxAbsError(actual, expected) <= 1e-5 * scale,
        "max element error " + maxAbsError(actual, expected) + " exceeds 1e-5 x " + scale);
  }

  @Test
  void parameterAveragingWithOneLocalStepAndSgdEqualsGradientSharing() {
    ModelSpec spec = spec(model(0.0), OptimizerConfig.of(OptimizerType.SGD, 0.1));
    INDArray shared;
    INDArray averaged;
    try (DistributedDataset data = data(2)) {
      shared =
          trainDistributed(
              new GradientSharing(SPARK.sc(), layout(data)), data, new GlobalModel(spec));
      averaged =
          trainDistributed(
              new ParameterAveraging(SPARK.sc(), layout(data), 1), data, new GlobalModel(spec));
    }
    double rel = relativeError(averaged, shared);
    assertTrue(rel <= 1e-5, "relative L2 error " + rel + " exceeds 1e-5");
  }

  /** The test model with dropout on every layer's input. */
  static ModelConfig modelWithDropout() {
    return new ModelConfig(
        List.of(
            new LayerConfig(LayerType.DENSE, 32, Activation.RELU, 0.2, null),
            new LayerConfig(LayerType.DENSE, 16, Activation.TANH, 0.3, null),
            new LayerConfig(LayerType.OUTPUT, 10, Activation.SOFTMAX, 0.1, Loss.CROSS_ENTROPY)),
        WeightInit.XAVIER_UNIFORM,
        0.0,
        1e-4,
        Precision.FLOAT32);
  }

  /**
   * Parameter averaging's local steps draw the dropout masks of the global steps they apply, as
   * gradient sharing does: with K = 1 and SGD the two are the same algorithm, dropout included.
   */
  @Test
  void parameterAveragingWithOneLocalStepAndDropoutEqualsGradientSharingWithDropout() {
    ModelSpec spec = spec(modelWithDropout(), OptimizerConfig.of(OptimizerType.SGD, 0.1));
    ModelSpec plain = spec(model(1e-4), OptimizerConfig.of(OptimizerType.SGD, 0.1));
    INDArray shared;
    INDArray averaged;
    INDArray withoutDropout;
    try (DistributedDataset data = data(2)) {
      shared =
          trainDistributed(
              new GradientSharing(SPARK.sc(), layout(data)), data, new GlobalModel(spec));
      averaged =
          trainDistributed(
              new ParameterAveraging(SPARK.sc(), layout(data), 1), data, new GlobalModel(spec));
      withoutDropout =
          trainDistributed(
              new GradientSharing(SPARK.sc(), layout(data)), data, new GlobalModel(plain));
    }
    assertTrue(
        relativeError(shared, withoutDropout) > 1e-2,
        "dropout must change the trajectory, else this test shows nothing");
    double rel = relativeError(averaged, shared);
    assertTrue(rel <= 1e-5, "relative L2 error " + rel + " exceeds 1e-5");
  }

  /**
   * The masks of a global step do not depend on how its batch is split: 2 and 4 workers with
   * dropout end where one process does that draws every example's mask from its index in the global
   * batch.
   */
  @ParameterizedTest(name = "{0} workers")
  @ValueSource(ints = {2, 4})
  void gradientSharingWithDropoutEqualsSingleProcessWithTheSameMasks(int workers) {
    ModelSpec spec = spec(modelWithDropout(), OptimizerConfig.of(OptimizerType.ADAM, 1e-3));
    INDArray expected = trainLocal(spec);
    INDArray actual;
    try (DistributedDataset data = data(workers)) {
      actual =
          trainDistributed(
              new GradientSharing(SPARK.sc(), layout(data)), data, new GlobalModel(spec));
    }
    double rel = relativeError(actual, expected);
    assertTrue(rel <= 1e-5, "relative L2 error " + rel + " exceeds 1e-5");
  }

  @Test
  void everyExampleIsSeenOncePerEpochInBalancedShares() {
    try (DistributedDataset data = data(3)) {
      JavaRDD<MiniBatch> batches = data.epoch(0);
      assertEquals(3, batches.getNumPartitions());
      // collectPartitions ships MiniBatch[] (registered with Kryo), not glom()'s Scala wrappers
      List<List<MiniBatch>> parts =
          java.util.Arrays.asList(batches.collectPartitions(new int[] {0, 1, 2}));
      int steps = data.stepsPerEpoch();
      long total = 0;
      for (int s = 0; s < steps; s++) {
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (List<MiniBatch> part : parts) {
          assertEquals(steps, part.size());
          assertEquals(s, part.get(s).step());
          min = Math.min(min, part.get(s).size());
          max = Math.max(max, part.get(s).size());
          total += part.get(s).size();
        }
        assertTrue(max - min <= 1, "step " + s + " shares differ by " + (max - min));
      }
      assertEquals(LIMIT, total);
    }
  }
}
