package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.InputConfig;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.data.EpochPlan;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.sync.GradientSharing;
import io.spindle.driver.sync.ParameterAveraging;
import io.spindle.model.GraphFactory;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.optim.GlobalStep;
import io.spindle.worker.MnistPartitionReader;
import io.spindle.worker.ModelSpec;
import io.spindle.worker.TrainableNetwork;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Distributed equals local for a small residual network (a {@code ComputationGraph}: an identity
 * block and a projection block with stride 2, {@code add} merges) on MNIST read as 28x28x1 images,
 * under gradient sharing and the collective engine (replicated and ZeRO-1 sharded optimiser state),
 * 2 and 4 workers, to 1e-5.
 *
 * <p>The stated exception is batch norm: in training it normalises with the statistics of the
 * examples it sees, and each worker sees its own share of the global batch. Without batch norm the
 * reference is one process on whole global batches. With batch norm the reference is one process
 * that computes each worker's share separately (its statistics per share), sums the shares'
 * gradients and applies one global step: the same algorithm, not a different one, which is what
 * Spindle's data-parallel batch norm is (no synchronised batch norm).
 */
class GraphEqualsLocalTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");
  @TempDir static Path cache;

  static final int STEPS = 30; // 24 steps per epoch: crosses a reshuffle

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  private static LayerConfig conv(String name, int filters, int kernel, int stride, String... in) {
    return LayerConfig.conv2d(filters, kernel, stride, kernel / 2, Activation.IDENTITY)
        .named(name, in);
  }

  private static LayerConfig relu(String name, String... in) {
    return LayerConfig.activation(Activation.RELU).named(name, in);
  }

  private static LayerConfig bn(boolean on, String name, String... in) {
    return on ? LayerConfig.of(LayerType.BATCH_NORM).named(name, in) : null;
  }

  /** stem (stride 2), identity block, projection block (stride 2), pool, softmax. */
  static ModelConfig residual(boolean batchNorm) {
    List<LayerConfig> l = new ArrayList<>();
    l.add(conv("stem", 4, 3, 2));
    l.add(relu("stem_act"));
    l.add(conv("a1", 4, 3, 1));
    l.add(bn(batchNorm, "a1_bn"));
    l.add(relu("a1_act"));
    l.add(conv("a2", 4, 3, 1));
    l.add(bn(batchNorm, "a2_bn"));
    l.add(LayerConfig.merge(LayerType.ADD, "a_sum", batchNorm ? "a2_bn" : "a2", "stem_act"));
    l.add(relu("a_act"));
    l.add(conv("b1", 8, 3, 2));
    l.add(bn(batchNorm, "b1_bn"));
    l.add(relu("b1_act"));
    l.add(conv("b2", 8, 3, 1));
    l.add(bn(batchNorm, "b2_bn"));
    l.add(conv("proj", 8, 1, 2, "a_act"));
    l.add(bn(batchNorm, "proj_bn"));
    l.add(
        LayerConfig.merge(
            LayerType.ADD, "b_sum", batchNorm ? "b2_bn" : "b2", batchNorm ? "proj_bn" : "proj"));
    l.add(relu("b_act"));
    l.add(LayerConfig.of(LayerType.GLOBAL_AVG_POOL).named("pool"));
    l.add(LayerConfig.output(10, Activation.SOFTMAX, Loss.CROSS_ENTROPY).named("fc"));
    l.removeIf(x -> x == null);
    return new ModelConfig(
        l,
        WeightInit.XAVIER_UNIFORM,
        0.0,
        1e-4,
        Precision.FLOAT32,
        InputConfig.image(28, 28, 1),
        0.0);
  }

  static ModelSpec spec(boolean batchNorm) {
    return DistributedEqualsLocalTest.spec(
        residual(batchNorm), OptimizerConfig.of(OptimizerType.ADAM, 1e-3));
  }

  /**
   * The single-process reference: {@code shares} = 1 computes each global batch at once; otherwise
   * each of the {@code shares} workers' slices separately (batch norm's per-worker statistics), the
   * gradients summed, then one global step.
   */
  static INDArray trainLocal(ModelSpec spec, int shares) {
    int batch = DistributedEqualsLocalTest.BATCH;
    int limit = DistributedEqualsLocalTest.LIMIT;
    long seed = DistributedEqualsLocalTest.SEED;
    List<Example> all = mnist(limit);
    // the workers' own replica (the fast kernels where they cover the graph, as on the executors),
    // in one process: what differs from the distributed run is only the distribution
    TrainableNetwork net = spec.newNetwork();
    ParameterRules rules = net.rules();
    GlobalStep step = GlobalStep.create(spec.optimizer(), rules);
    INDArray w = net.params();
    long iteration = 0;
    for (int epoch = 0; iteration < STEPS; epoch++) {
      EpochPlan plan = new EpochPlan(limit, batch, shares, seed, epoch);
      for (int s = 0; s < plan.stepsPerEpoch() && iteration < STEPS; s++) {
        INDArray sum = null;
        int size = plan.stepSize(s);
        for (int k = 0; k < shares; k++) {
          int from = plan.sliceStart(size, k);
          int to = k + 1 < shares ? plan.sliceStart(size, k + 1) : size;
          List<Example> examples = new ArrayList<>();
          for (int r = 0; r < to - from; r++) {
            examples.add(all.get(plan.exampleAt(s, k, r)));
          }
          net.computeGradient(
              MiniBatch.of(s, 784, examples), new StepKey(spec.seed(), iteration, from));
          INDArray g = net.gradient().dup();
          sum = sum == null ? g : sum.addi(g);
        }
        step.apply(w, sum, size, iteration++);
      }
    }
    return w.dup();
  }

  /** The first {@code limit} MNIST training examples. */
  static List<Example> mnist(int limit) {
    return MnistPartitionReader.read(
        DistributedEqualsLocalTest.uri("train-images-idx3-ubyte.gz"),
        DistributedEqualsLocalTest.uri("train-labels-idx1-ubyte.gz"),
        10,
        0,
        limit);
  }

  static INDArray trainDistributed(ModelSpec spec, int workers, String mode) {
    try (DistributedDataset data = DistributedEqualsLocalTest.data(workers)) {
      ParameterSync sync =
          switch (mode) {
            case "gradient_sharing" ->
                new GradientSharing(SPARK.sc(), DistributedEqualsLocalTest.layout(data));
            case "collective" -> CollectiveEqualsLocalTestAccess.collective(data, false);
            case "collective_sharded" -> CollectiveEqualsLocalTestAccess.collective(data, true);
            case "parameter_averaging" ->
                new ParameterAveraging(SPARK.sc(), DistributedEqualsLocalTest.layout(data), 1);
            default -> throw new IllegalArgumentException(mode);
          };
      return DistributedEqualsLocalTest.trainDistributed(sync, data, new GlobalModel(spec), STEPS);
    }
  }

  /** The collective strategy as {@link CollectiveEqualsLocalTest} builds it. */
  static final class CollectiveEqualsLocalTestAccess {
    static ParameterSync collective(DistributedDataset data, boolean sharded) {
      return new io.spindle.driver.sync.CollectiveSync(
          SPARK.sc(),
          DistributedEqualsLocalTest.layout(data),
          20,
          io.spindle.config.CompressionSpec.NONE,
          sharded,
          30000,
          false);
    }
  }

  static void assertClose(INDArray actual, INDArray expected, String what) {
    double rel = DistributedEqualsLocalTest.relativeError(actual, expected);
    assertTrue(rel <= 1e-5, what + ": relative L2 error " + rel + " exceeds 1e-5");
    double scale = expected.amaxNumber().doubleValue();
    double max = DistributedEqualsLocalTest.maxAbsError(actual, expected);
    assertTrue(max <= 1e-5 * scale, what + ": max element error " + max + " > 1e-5 x " + scale);
  }

  @ParameterizedTest(name = "{1}, {0} workers, no batch norm")
  @CsvSource({
    "2, gradient_sharing",
    "4, gradient_sharing",
    "2, collective",
    "4, collective_sharded"
  })
  void residualNetworkEqualsSingleProcessOnWholeBatches(int workers, String mode) {
    ModelSpec spec = spec(false);
    INDArray expected = trainLocal(spec, 1);
    INDArray initial =
        GraphFactory.create(spec.model(), 784, DistributedEqualsLocalTest.SEED).params();
    assertTrue(
        DistributedEqualsLocalTest.relativeError(expected, initial) > 1e-2,
        "the reference must have moved the parameters");
    assertClose(trainDistributed(spec, workers, mode), expected, mode + ", " + workers);
  }

  /**
   * The convolutions before batch norm have biases whose gradient is exactly zero; the global step
   * sets it so ({@code CancelledBiases}). Before it did, DL4J's rounding noise there went through
   * Adam as learning-rate-sized steps, and the collective engine's fused update (which rounds
   * differently from the driver's ND4J update) ended 1.5e-3 to 1.8e-3 from this reference.
   */
  @ParameterizedTest(name = "{1}, {0} workers, batch norm per worker")
  @CsvSource({
    "2, gradient_sharing",
    "4, gradient_sharing",
    "2, collective",
    "4, collective_sharded"
  })
  void residualNetworkWithBatchNormEqualsSingleProcessWithPerWorkerStatistics(
      int workers, String mode) {
    ModelSpec spec = spec(true);
    INDArray expected = trainLocal(spec, workers);
    assertClose(trainDistributed(spec, workers, mode), expected, mode + ", " + workers);
  }

  /**
   * Weight decay leaving out biases (Adam, so the decay enters both moments): the distributed run
   * equals the single-process one, including ZeRO-1 shards that cut the decayed ranges, and the
   * decay changes the trajectory (by more than 10 times the tolerance).
   *
   * <p>Measured, not asserted: with Nesterov (lr 0.05, decay 0.05) 2 workers end 3e-7 from the
   * reference, but 4 workers end 9.5e-5 away under both gradient sharing and ZeRO-1, the two
   * agreeing with each other; without decay 4 workers end 2.7e-7 away. Gradient sharing applies the
   * decay on the driver with the reference's code, so the difference most likely comes from summing
   * 4 shares in another order than the whole batch, which that trajectory amplifies (see
   * docs/residual-networks.md).
   */
  @ParameterizedTest(name = "{1}, {0} workers, weight decay without biases")
  @CsvSource({"2, gradient_sharing", "4, gradient_sharing", "4, collective_sharded"})
  void weightDecayEqualsSingleProcess(int workers, String mode) {
    OptimizerConfig adam = OptimizerConfig.of(OptimizerType.ADAM, 1e-3);
    ModelSpec plain = DistributedEqualsLocalTest.spec(residual(false), adam);
    ModelSpec decayed =
        DistributedEqualsLocalTest.spec(
            residual(false),
            adam.withWeightDecay(0.05, List.of(io.spindle.config.ParameterGroup.BIAS)));
    INDArray expected = trainLocal(decayed, 1);
    double effect = DistributedEqualsLocalTest.relativeError(trainLocal(plain, 1), expected);
    assertTrue(effect > 1e-4, "the decay must change the trajectory, relative L2 " + effect);
    assertClose(trainDistributed(decayed, workers, mode), expected, mode + ", " + workers);
  }

  /**
   * Gradient accumulation: each worker computing its share in K micro-batches (with dropout, whose
   * masks follow the examples' indices in the global batch) equals the single process computing
   * each global batch at once.
   */
  @ParameterizedTest(name = "{1}, {0} workers, accumulate {2}")
  @CsvSource({"2, gradient_sharing, 3", "2, collective, 4"})
  void accumulatedMicroBatchesEqualOneStepOfTheWholeBatch(int workers, String mode, int k) {
    ModelConfig model = residualWithDropout();
    ModelSpec spec =
        DistributedEqualsLocalTest.spec(model, OptimizerConfig.of(OptimizerType.ADAM, 1e-3));
    INDArray expected = trainLocalKeyed(spec);
    assertClose(
        trainDistributed(spec.withAccumulate(k), workers, mode),
        expected,
        mode + ", " + workers + ", accumulate " + k);
  }

  /** The residual network without batch norm, with dropout 0.2 on the output layer's input. */
  static ModelConfig residualWithDropout() {
    ModelConfig m = residual(false);
    List<LayerConfig> layers = new ArrayList<>(m.layers());
    layers.set(
        layers.size() - 1,
        new LayerConfig(LayerType.OUTPUT, 10, Activation.SOFTMAX, 0.2, Loss.CROSS_ENTROPY)
            .named("fc"));
    return new ModelConfig(
        layers, m.weightInit(), m.l1(), m.l2(), m.precision(), m.input(), m.maxNorm());
  }

  /**
   * The single-process reference on whole global batches through the replica itself (so that
   * dropout draws its masks from the step's key, example 0 of the global batch first).
   */
  static INDArray trainLocalKeyed(ModelSpec spec) {
    int batch = DistributedEqualsLocalTest.BATCH;
    int limit = DistributedEqualsLocalTest.LIMIT;
    long seed = DistributedEqualsLocalTest.SEED;
    List<Example> all = mnist(limit);
    io.spindle.worker.TrainableNetwork net = spec.newNetwork();
    GlobalStep step = GlobalStep.create(spec.optimizer(), net.rules());
    INDArray w = net.params();
    long iteration = 0;
    for (int epoch = 0; iteration < STEPS; epoch++) {
      EpochPlan plan = new EpochPlan(limit, batch, 1, seed, epoch);
      for (int s = 0; s < plan.stepsPerEpoch() && iteration < STEPS; s++) {
        int size = plan.stepSize(s);
        List<Example> examples = new ArrayList<>();
        for (int r = 0; r < size; r++) {
          examples.add(all.get(plan.exampleAt(s, 0, r)));
        }
        net.computeGradient(
            MiniBatch.of(s, 784, examples), new io.spindle.model.StepKey(seed, iteration, 0));
        step.apply(w, net.gradient(), size, iteration++);
      }
    }
    return w.dup();
  }

  /** The exception is real: whole-batch statistics give another trajectory than per-worker ones. */
  @Test
  void batchNormStatisticsPerWorkerDifferFromWholeBatchStatistics() {
    ModelSpec spec = spec(true);
    double rel = DistributedEqualsLocalTest.relativeError(trainLocal(spec, 2), trainLocal(spec, 1));
    assertTrue(rel > 1e-4, "per-worker batch norm should differ from whole-batch, error " + rel);
  }
}
