package io.spindle.bench;

import io.spindle.bench.LayerClock.Phase;
import io.spindle.config.Kernels;
import io.spindle.config.LayerConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.model.ParameterRules;
import io.spindle.model.RawUpdateRanges;
import io.spindle.model.StepKey;
import io.spindle.model.fast.FastPath;
import io.spindle.optim.GlobalStep;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.ModelSpec;
import io.spindle.worker.MultiLayerReplica;
import io.spindle.worker.TrainableNetwork;
import io.spindle.worker.collective.TcpRing;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Where one worker's collective training step goes, phase by phase, on the calling thread: the same
 * calls, in the same order, as {@code CollectiveTrainer.train} makes for rank 0 of {@code workers}
 * (sharded optimiser), minus the ring (measured apart by {@link RingTime}). Each layer's forward
 * and backward time comes from a {@link LayerClock} around DL4J's own training loop.
 *
 * <p>Rows (milliseconds per step, mean over the timed steps):
 *
 * <ul>
 *   <li>per layer: forward (DL4J {@code activate}, including the dropout of the layer's input),
 *       backward ({@code backpropGradient}), the output layer's loss ({@code computeScore}), and
 *       the input preprocessors (layout conversions between image and flat layers);
 *   <li>{@code input arrays}: the mini-batch copied into native arrays (features, one-hot labels);
 *   <li>{@code DL4J loop}: {@code computeGradientAndScore} minus its layers: workspaces, listeners
 *       (the accuracy counter's extra output product), bookkeeping;
 *   <li>{@code gradient flatten copy}: the flat gradient copied to the Java array the ring sends;
 *   <li>{@code optimiser}: mean, penalty and the optimiser's update of this worker's shard;
 *   <li>{@code parameter copy-in}: max-norm and the new parameters copied back into the network.
 * </ul>
 */
public final class StepProfiler {
  /** One measured row. */
  public record Row(String group, String part, String phase, double ms) {}

  private StepProfiler() {}

  /**
   * Profiles {@code steps} steps (after {@code warmup} untimed ones) of a worker training on {@code
   * batch} examples per step out of {@code train}.
   */
  public static List<Row> run(
      SpindleConfig config,
      List<Example> train,
      int numClasses,
      int batch,
      int workers,
      int warmup,
      int steps) {
    int numInputs = train.get(0).features().length;
    ModelSpec spec =
        new ModelSpec(
            config.model().withKernels(Kernels.DL4J), // DL4J's layers, each under a LayerClock
            config.optimizer(),
            numInputs,
            numClasses,
            config.training().seed(),
            1,
            null);
    TrainableNetwork replica = spec.newNetwork();
    MultiLayerNetwork net = ((MultiLayerReplica) replica).network();
    LayerClock clock = LayerClock.install(net);
    INDArray w = replica.params();
    int n = (int) w.length();
    int[] bounds = TcpRing.bounds(n, workers);
    int from = bounds[0];
    int to = bounds[1];
    float[] values = FlatVector.copyOf(w).toFloatArray();
    GlobalStep update = GlobalStep.create(config.optimizer(), replica.rules(), from, to);
    float[] gradient = new float[n];
    List<MiniBatch> batches = batches(train, numInputs, batch, warmup + steps);
    long[] t = new long[Step.values().length];
    for (int s = 0; s < warmup + steps; s++) {
      if (s == warmup) {
        java.util.Arrays.fill(t, 0);
        clock.reset();
      }
      MiniBatch b = batches.get(s);
      long t0 = System.nanoTime();
      b.featureArray(DataType.FLOAT);
      b.oneHotLabels(DataType.FLOAT, numClasses);
      long t1 = System.nanoTime();
      t[Step.INPUT.ordinal()] += t1 - t0;
      replica.computeGradient(b, new StepKey(config.training().seed(), s, 0));
      long t2 = System.nanoTime();
      t[Step.COMPUTE.ordinal()] += t2 - t1;
      replica.correctOfLastForward();
      FlatVector.copyOut(replica.gradient(), gradient, 0);
      long t3 = System.nanoTime();
      t[Step.FLATTEN.ordinal()] += t3 - t2;
      update.update(values, gradient, (long) batch * workers, s);
      long t4 = System.nanoTime();
      t[Step.OPTIMISER.ordinal()] += t4 - t3;
      update.constrain(values);
      FlatVector.copyInto(values, 0, n, w, 0);
      t[Step.COPY_IN.ordinal()] += System.nanoTime() - t4;
    }
    List<Row> rows = new ArrayList<>();
    double per = 1e6 * steps;
    long layerNanos = 0;
    List<LayerConfig> layers = config.model().layers();
    for (String part : clock.parts()) {
      int index = Integer.parseInt(part.substring(0, part.indexOf(' ')));
      boolean pre = part.contains(" pre ");
      String name =
          pre
              ? "layout " + part.substring(part.indexOf(" pre ") + 5)
              : ProfileRows.layerName(index, layers.get(index));
      for (Phase phase : Phase.values()) {
        long ns = clock.nanos(part, phase);
        layerNanos += ns;
        if (ns > 0) {
          rows.add(new Row(pre ? "layout" : "layer", name, phaseName(phase), ns / per));
        }
      }
    }
    // computeGradient also builds the input arrays (timed apart above) and runs DL4J's loop
    double loop = t[Step.COMPUTE.ordinal()] - layerNanos - t[Step.INPUT.ordinal()];
    rows.add(new Row("step", "input arrays (mini-batch to native)", "copy", t[0] / per));
    rows.add(new Row("step", "DL4J loop, workspaces, listeners", "other", loop / per));
    rows.add(
        new Row(
            "step", "gradient flatten copy + accuracy", "copy", t[Step.FLATTEN.ordinal()] / per));
    rows.add(
        new Row(
            "step",
            "optimiser (own shard: GlobalStep, fused Java)",
            "optimiser",
            t[Step.OPTIMISER.ordinal()] / per));
    rows.add(
        new Row("step", "parameter copy-in (+max-norm)", "copy", t[Step.COPY_IN.ordinal()] / per));
    return rows;
  }

  private static List<MiniBatch> batches(List<Example> train, int numInputs, int batch, int count) {
    List<MiniBatch> batches = new ArrayList<>();
    for (int i = 0; i + batch <= train.size() && batches.size() < count; i += batch) {
      batches.add(MiniBatch.of(batches.size(), numInputs, train.subList(i, i + batch)));
    }
    if (batches.size() < count) {
      throw new IllegalArgumentException(
          "profile: "
              + train.size()
              + " training examples give fewer than "
              + count
              + " batches of "
              + batch);
    }
    return batches;
  }

  /** Builds a fast path over a network. */
  public interface FastFactory {
    FastPath build(MultiLayerNetwork net, int numInputs, int batch);
  }

  /**
   * The same step with a fast path ({@link FastPath}) in place of DL4J's forward and backward: rows
   * of group {@code group}. A dense layer's backward row holds its weight gradient, its input
   * gradient and the layer below's activation and bias gradient.
   */
  public static List<Row> runFast(
      String group,
      FastFactory factory,
      SpindleConfig config,
      List<Example> train,
      int numClasses,
      int batch,
      int workers,
      int warmup,
      int steps) {
    int numInputs = train.get(0).features().length;
    MultiLayerNetwork net =
        io.spindle.model.ModelFactory.create(config.model(), numInputs, config.training().seed());
    FastPath fast = factory.build(net, numInputs, batch);
    int layers = config.model().layers().size();
    long[] layerNanos = new long[2 * layers];
    INDArray w = net.params();
    int n = (int) w.length();
    int[] bounds = TcpRing.bounds(n, workers);
    int from = bounds[0];
    int to = bounds[1];
    float[] values = FlatVector.copyOf(w).toFloatArray();
    ParameterRules rules = ParameterRules.of(net, config.model());
    GlobalStep update = GlobalStep.create(config.optimizer(), rules, from, to);
    RawUpdateRanges raw = rules.rawUpdates();
    float[] gradient = new float[n];
    List<MiniBatch> batches = batches(train, numInputs, batch, warmup + steps);
    long[] t = new long[4];
    for (int s = 0; s < warmup + steps; s++) {
      if (s == warmup) {
        java.util.Arrays.fill(t, 0);
        fast.recordTimes(layerNanos);
      }
      MiniBatch b = batches.get(s);
      long t0 = System.nanoTime();
      float[] features = b.features();
      long t1 = System.nanoTime();
      t[0] += t1 - t0;
      fast.computeGradient(
          features, b.labels(), b.size(), new StepKey(config.training().seed(), s, 0));
      long t2 = System.nanoTime();
      raw.scaleToSum(net.getFlattenedGradients(), b.size());
      FlatVector.copyOut(net.getFlattenedGradients(), gradient, 0);
      long t3 = System.nanoTime();
      t[1] += t3 - t2;
      update.update(values, gradient, (long) batch * workers, s);
      long t4 = System.nanoTime();
      t[2] += t4 - t3;
      update.constrain(values);
      FlatVector.copyInto(values, 0, n, w, 0);
      t[3] += System.nanoTime() - t4;
    }
    List<Row> rows = new ArrayList<>();
    double per = 1e6 * steps;
    List<LayerConfig> layerConfigs = config.model().layers();
    for (int l = 0; l < layers; l++) {
      String name = ProfileRows.layerName(l, layerConfigs.get(l));
      rows.add(new Row(group, name, "forward", layerNanos[2 * l] / per));
      rows.add(new Row(group, name, "backward", layerNanos[2 * l + 1] / per));
    }
    rows.add(new Row(group, "input arrays (mini-batch features)", "copy", t[0] / per));
    rows.add(new Row(group, "gradient copy to the ring's array", "copy", t[1] / per));
    rows.add(new Row(group, "optimiser (own shard, fused Java)", "optimiser", t[2] / per));
    rows.add(new Row(group, "parameter copy-in", "copy", t[3] / per));
    return rows;
  }

  private static String phaseName(Phase p) {
    return switch (p) {
      case FORWARD -> "forward";
      case BACKWARD -> "backward";
      case LOSS -> "loss";
    };
  }

  private enum Step {
    INPUT,
    COMPUTE,
    FLATTEN,
    OPTIMISER,
    COPY_IN
  }
}
