package io.spindle.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigException;
import io.spindle.config.InputConfig;
import io.spindle.config.Kernels;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.PresetConfig;
import io.spindle.config.WeightInit;
import io.spindle.data.MiniBatch;
import io.spindle.model.RawUpdateRanges;
import io.spindle.model.StepKey;
import io.spindle.model.fast.FastPath;
import io.spindle.tensor.FlatVector;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The fast kernels for graph models ({@code FastResidualNet} through {@link FastReplica#ofGraph})
 * against DL4J's {@code ComputationGraph} ({@link GraphReplica}) in float64, for the ResNet-20
 * preset at a small width on small images: option A shortcuts on a one-channel image (the stem is
 * {@code Im2colConv}) and option B on a four-channel image (the stem is libnd4j's conv2d, with the
 * input's gradient), both with label smoothing 0.1 and L2 5e-4.
 *
 * <p>One step from the same parameters: the mean loss within {@value #LOSS_RTOL} relative; every
 * entry of the flat gradient (the summed gradient, batch norm's running-statistics updates
 * included) within {@value #GRAD_RTOL} of the largest entry's magnitude; the running-statistics
 * entries on their own within {@value #STATS_ATOL} (measured 9.5e-7; DL4J's log10-std update leaves
 * eps out of the batch variance, and the fast kernels' earlier update with it was 3.8e-6 away).
 * Float32 arithmetic against float64, so the bounds are float rounding (about 6e-8 relative per
 * operation) carried through 20 layers and batch norm's division by small standard deviations, with
 * a margin; a missing term (a shortcut's gradient, the label smoothing, a zero channel) moves the
 * gradient by a large fraction.
 *
 * <p>A short trajectory ({@value #STEPS} steps of SGD with Nesterov momentum, learning rate 0.05)
 * from the same start: losses within {@value #TRAJ_LOSS_RTOL} relative and parameters within
 * {@value #TRAJ_PARAM_ATOL} at every step.
 */
class FastGraphReplicaTest {
  static final double LOSS_RTOL = 1e-6;
  static final double GRAD_RTOL = 1e-5;
  static final double STATS_ATOL = 2e-6;
  static final double TRAJ_LOSS_RTOL = 1e-5;
  static final double TRAJ_PARAM_ATOL = 5e-6;
  static final int STEPS = 8;
  static final int BATCH = 16;

  static ModelConfig resnet20(String shortcut, InputConfig input, Precision p, Kernels k) {
    return new ModelConfig(
        null,
        WeightInit.HE_NORMAL,
        0.0,
        5e-4,
        p,
        input,
        0.0,
        new PresetConfig("resnet20", 4, 10, shortcut, false, 0.1),
        k);
  }

  static ModelSpec spec(ModelConfig model, InputConfig input) {
    return new ModelSpec(
        model,
        OptimizerConfig.of(OptimizerType.NESTEROV, 0.05),
        input.height() * input.width() * input.channels(),
        10,
        FastReplicaTest.SEED,
        1);
  }

  static List<MiniBatch> batches(InputConfig in, int count) {
    int[] chw = {in.channels(), in.height(), in.width()};
    return FastReplicaTest.batches(count, BATCH, chw, false, 11);
  }

  private static InputConfig input(String shortcut) {
    return shortcut.equals("a") ? InputConfig.image(8, 8, 1) : InputConfig.image(8, 8, 4);
  }

  @ParameterizedTest(name = "option {0}")
  @CsvSource({"a", "b"})
  void oneStepEqualsDl4jInDoublePrecision(String shortcut) {
    InputConfig in = input(shortcut);
    ModelSpec fastSpec = spec(resnet20(shortcut, in, Precision.FLOAT32, Kernels.FAST), in);
    ModelSpec exactSpec = spec(resnet20(shortcut, in, Precision.FLOAT64, Kernels.DL4J), in);
    TrainableNetwork fast = fastSpec.newNetwork();
    TrainableNetwork exact = exactSpec.newNetwork();
    assertInstanceOf(FastReplica.class, fast);
    assertInstanceOf(GraphReplica.class, exact);
    float[] initial = FlatVector.copyOf(fast.params()).toFloatArray();
    INDArray w = exact.params();
    w.assign(Nd4j.createFromArray(initial).castTo(DataType.DOUBLE).reshape(w.shape()));
    MiniBatch b = batches(in, 1).get(0);
    StepKey key = new StepKey(FastReplicaTest.SEED, 0, 0);
    double lossFast = fast.computeGradient(b, key);
    double lossExact = exact.computeGradient(b, key);
    double[] g =
        fast.gradient().castTo(DataType.DOUBLE).reshape(fast.gradient().length()).toDoubleVector();
    double[] ge = exact.gradient().reshape(g.length).toDoubleVector();
    double largest = 0;
    double worst = 0;
    int at = 0;
    for (int i = 0; i < g.length; i++) {
      largest = Math.max(largest, Math.abs(ge[i]));
      if (Math.abs(g[i] - ge[i]) > worst) {
        worst = Math.abs(g[i] - ge[i]);
        at = i;
      }
    }
    RawUpdateRanges stats = fast.rules().rawUpdates();
    double worstStats = 0;
    int statEntries = 0;
    for (int r = 0; r < stats.count(); r++) {
      for (int i = stats.from(r); i < stats.to(r); i++) {
        worstStats = Math.max(worstStats, Math.abs(g[i] - ge[i]));
        statEntries++;
      }
    }
    System.out.printf(
        "FastGraphReplicaTest option %s: loss %.6f vs %.6f (rel %.2e), gradient worst %.2e at %d"
            + " of largest %.2e (rel %.2e), running statistics (%d entries) worst %.2e%n",
        shortcut,
        lossFast,
        lossExact,
        Math.abs(lossFast - lossExact) / lossExact,
        worst,
        at,
        largest,
        worst / largest,
        statEntries,
        worstStats);
    assertTrue(statEntries > 0, "the network has batch norm running statistics");
    assertTrue(
        Math.abs(lossFast - lossExact) <= LOSS_RTOL * lossExact,
        "loss " + lossFast + " (fast) vs " + lossExact + " (float64)");
    assertTrue(
        worst <= GRAD_RTOL * largest,
        "gradient entry " + at + ": " + g[at] + " (fast) vs " + ge[at] + " (float64)");
    assertTrue(worstStats <= STATS_ATOL, "running statistics differ by " + worstStats);
  }

  @Test
  void trajectoryEqualsDl4jInDoublePrecision() {
    InputConfig in = input("a");
    ModelSpec fastSpec = spec(resnet20("a", in, Precision.FLOAT32, Kernels.AUTO), in);
    ModelSpec exactSpec = spec(resnet20("a", in, Precision.FLOAT64, Kernels.DL4J), in);
    List<MiniBatch> batches = batches(in, STEPS);
    TrainableNetwork fast = fastSpec.newNetwork();
    assertInstanceOf(FastReplica.class, fast);
    float[] initial = FlatVector.copyOf(fast.params()).toFloatArray();
    FastReplicaTest.Trajectory a = FastReplicaTest.train(fast, fastSpec, batches);
    FastReplicaTest.Trajectory exact =
        FastReplicaTest.trainExact(exactSpec.newNetwork(), exactSpec, batches, initial);
    double[] gap = FastReplicaTest.gap(a, exact);
    System.out.printf(
        "FastGraphReplicaTest trajectory, %d steps: loss rel. %.2e, parameters %.2e; loss %.4f ->"
            + " %.4f%n",
        STEPS, gap[0], gap[1], exact.losses()[0], exact.losses()[STEPS - 1]);
    for (int s = 0; s < STEPS; s++) {
      double rel = Math.abs(a.losses()[s] - exact.losses()[s]) / exact.losses()[s];
      double diff = FastReplicaTest.maxAbsDiff(a.params().get(s), exact.params().get(s));
      assertTrue(rel <= TRAJ_LOSS_RTOL, "step " + s + ": loss rel. difference " + rel);
      assertTrue(diff <= TRAJ_PARAM_ATOL, "step " + s + ": parameters differ by " + diff);
    }
    assertTrue(
        exact.losses()[STEPS - 1] < exact.losses()[0],
        "the trajectory learns: " + exact.losses()[0] + " -> " + exact.losses()[STEPS - 1]);
  }

  @Test
  void autoRunsResNetPresetsOnTheFastKernelsAndFallsBackElsewhere() {
    InputConfig in = input("a");
    assertInstanceOf(
        FastReplica.class,
        spec(resnet20("a", in, Precision.FLOAT32, Kernels.AUTO), in).newNetwork());
    assertInstanceOf(
        FastReplica.class,
        spec(resnet20("b", in, Precision.FLOAT32, Kernels.AUTO), in).newNetwork());
    assertInstanceOf(
        GraphReplica.class,
        spec(resnet20("a", in, Precision.FLOAT32, Kernels.DL4J), in).newNetwork());
    assertInstanceOf(
        GraphReplica.class,
        spec(resnet20("a", in, Precision.FLOAT64, Kernels.AUTO), in).newNetwork());
    assertNull(
        FastPath.unsupported(resnet20("a", in, Precision.FLOAT32, Kernels.AUTO), 64),
        "ResNet-20 is covered");
    // ImageNet's stem has a padded max pooling, which the graph kernels do not cover
    InputConfig big = InputConfig.image(32, 32, 3);
    ModelConfig resnet18 =
        new ModelConfig(
            null,
            WeightInit.HE_NORMAL,
            0.0,
            0.0,
            Precision.FLOAT32,
            big,
            0.0,
            new PresetConfig("resnet18", 4, 10, "b", false),
            Kernels.AUTO);
    String why = FastPath.unsupported(resnet18, 32 * 32 * 3);
    assertTrue(why != null && why.contains("stem_pool"), String.valueOf(why));
    assertInstanceOf(GraphReplica.class, spec(resnet18, big).newNetwork());
    ConfigException e =
        assertThrows(ConfigException.class, () -> spec(resnet18.withKernels(Kernels.FAST), big));
    assertTrue(e.getMessage().contains("stem_pool"), e.getMessage());
    assertEquals(
        0,
        FastReplicaTest.maxAbsDiff(
            FlatVector.copyOf(
                    spec(resnet20("a", in, Precision.FLOAT32, Kernels.AUTO), in)
                        .newNetwork()
                        .params())
                .toFloatArray(),
            FlatVector.copyOf(
                    spec(resnet20("a", in, Precision.FLOAT32, Kernels.DL4J), in)
                        .newNetwork()
                        .params())
                .toFloatArray()),
        "both paths start from DL4J's initial parameters");
  }
}
