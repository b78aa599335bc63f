package io.spindle.bench;

import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetSpec;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.model.fast.FastDenseNet;
import io.spindle.optim.GlobalStep;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.tensor.FlatVector;
import io.spindle.worker.MnistPartitionReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code bench --profile-dense}: one worker's whole training step on the fast dense path, as {@code
 * spindle-collective-1w} runs it (one worker, the whole global batch, no ring), cut into the phases
 * of {@link FastDenseNet#phases} plus what the collective trainer does around it (the gradient's
 * copy to the ring's heap array, the {@link GlobalStep} update, the constraint and the parameters'
 * copy back into the network), beside the time of the step's matrix products alone at the same
 * shapes in the same JVM and thread: {@code Nd4j.gemm} and libnd4j's {@code matmul} op (the one the
 * fast path calls), each into preallocated arrays.
 *
 * <p>One thread ({@link Nd4jRuntime#configureThreads}(1)), like a collective worker; wall times in
 * milliseconds per step over {@code steps} steps after {@value #WARMUP} of warm-up.
 */
public final class DenseStepProfile {
  static final int WARMUP = 40;

  private DenseStepProfile() {}

  /** Runs the profile on {@code config}'s MLP and prints it. */
  public static void run(SpindleConfig config, int steps, PrintStream console) {
    if (!FastDenseNet.supports(config.model())) {
      throw new IllegalArgumentException(
          "--profile-dense profiles the fast dense path; this model is not one: "
              + config.model().layers());
    }
    int batch = config.training().batchSize();
    Map<String, Path> files = io.spindle.driver.data.DatasetFiles.fetch(config);
    int numClasses = DatasetSpec.named(config.data().dataset()).numClasses();
    List<Example> train =
        MnistPartitionReader.read(
            files.get(DatasetSpec.TRAIN_IMAGES).toUri().toString(),
            files.get(DatasetSpec.TRAIN_LABELS).toUri().toString(),
            numClasses,
            0,
            batch * 16);
    console.printf(
        Locale.ROOT,
        "dense step profile: %d steps (after %d warm-up) of %d examples, one thread; load %s%n",
        steps,
        WARMUP,
        batch,
        ProfileCommand.loadAverage());
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      console.print(pool.submit(() -> profile(config, train, batch, steps)).get());
    } catch (Exception e) {
      throw new IllegalStateException("profile: the dense step failed: " + e, e);
    } finally {
      pool.shutdownNow();
    }
    console.printf(Locale.ROOT, "load after: %s%n", ProfileCommand.loadAverage());
  }

  private static String profile(SpindleConfig config, List<Example> train, int batch, int steps) {
    Nd4jRuntime.configureThreads(1);
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    int numInputs = train.get(0).features().length;
    MultiLayerNetwork net =
        ModelFactory.create(config.model(), numInputs, config.training().seed());
    FastDenseNet fast = FastDenseNet.of(net, config.model(), batch);
    ParameterRules rules = ParameterRules.of(net, config.model());
    List<MiniBatch> batches = new ArrayList<>();
    for (int i = 0; i + batch <= train.size(); i += batch) {
      batches.add(MiniBatch.of(batches.size(), numInputs, train.subList(i, i + batch)));
    }
    INDArray w = net.params();
    int n = (int) w.length();
    float[] values = FlatVector.copyOf(w).toFloatArray();
    float[] gradient = new float[n];
    GlobalStep update = GlobalStep.create(config.optimizer(), rules);
    List<String> names = new ArrayList<>(FastDenseNet.phases());
    int own = names.size();
    names.add("gradient copy to the heap array (FlatVector.copyOut)");
    names.add("optimiser: GlobalStep.update (mean, penalty, Adam)");
    names.add("constraint + parameter copy-in");
    long[] nanos = new long[names.size()];
    long cpu = 0;
    long wall = 0;
    for (int s = 0; s < WARMUP + steps; s++) {
      if (s == WARMUP) {
        java.util.Arrays.fill(nanos, 0);
        fast.recordPhases(nanos);
        cpu = mx.getCurrentThreadCpuTime();
        wall = System.nanoTime();
      }
      MiniBatch b = batches.get(s % batches.size());
      fast.computeGradient(b.features(), b.labels(), batch, new StepKey(1, s, 0));
      rules.rawUpdates().scaleToSum(net.getFlattenedGradients(), batch);
      long t0 = System.nanoTime();
      FlatVector.copyOut(net.getFlattenedGradients(), gradient, 0);
      long t1 = System.nanoTime();
      update.update(values, gradient, batch, s);
      long t2 = System.nanoTime();
      update.constrain(values);
      FlatVector.copyInto(values, 0, n, w, 0);
      long t3 = System.nanoTime();
      if (s >= WARMUP) {
        nanos[own] += t1 - t0;
        nanos[own + 1] += t2 - t1;
        nanos[own + 2] += t3 - t2;
      }
    }
    double stepMs = (System.nanoTime() - wall) / 1e6 / steps;
    double cpuMs = (mx.getCurrentThreadCpuTime() - cpu) / 1e6 / steps;
    fast.recordPhases(null);
    StringBuilder out = new StringBuilder();
    out.append(
        String.format(
            Locale.ROOT,
            "%nwhole step: %.2f ms wall, %.2f ms thread CPU (%,.0f samples/s)%n",
            stepMs,
            cpuMs,
            batch / stepMs * 1e3));
    out.append("| phase | ms per step |\n|---|---:|\n");
    double sum = 0;
    for (int i = 0; i < names.size(); i++) {
      double ms = nanos[i] / 1e6 / steps;
      sum += ms;
      out.append(String.format(Locale.ROOT, "| %s | %.3f |%n", names.get(i), ms));
    }
    double products = (nanos[1] + nanos[4] + nanos[5]) / 1e6 / steps; // the three product phases
    out.append(String.format(Locale.ROOT, "| sum of the phases | %.3f |%n", sum));
    out.append(
        String.format(
            Locale.ROOT,
            "| of which matrix products | %.3f (%.0f%%) |%n",
            products,
            100 * products / stepMs));
    out.append(products(net, numInputs, batch, steps));
    return out.toString();
  }

  /** The step's products alone, same shapes, preallocated outputs: gemm and matmul. */
  private static String products(MultiLayerNetwork net, int numInputs, int batch, int steps) {
    int layers = net.getnLayers();
    double gemmMs = 0;
    double matmulMs = 0;
    double flops = 0;
    StringBuilder rows = new StringBuilder();
    int in = numInputs;
    for (int l = 0; l < layers; l++) {
      int out = (int) net.getLayer(l).getParam("W").size(1);
      INDArray x = Nd4j.rand(DataType.FLOAT, batch, in);
      INDArray wt = Nd4j.rand(DataType.FLOAT, out, in); // W^T, row-major, as the fast path
      INDArray z = Nd4j.create(DataType.FLOAT, batch, out);
      INDArray d = Nd4j.rand(DataType.FLOAT, batch, out);
      INDArray dwt = Nd4j.create(DataType.FLOAT, out, in);
      INDArray g = Nd4j.create(DataType.FLOAT, batch, in);
      boolean inputGradient = l > 0;
      double[] gemm = {
        time(() -> Nd4j.gemm(x, wt, z, false, true, 1, 0), steps),
        time(() -> Nd4j.gemm(d, x, dwt, true, false, 1, 0), steps),
        inputGradient ? time(() -> Nd4j.gemm(d, wt, g, false, false, 1, 0), steps) : 0
      };
      double[] matmul = {
        time(() -> matmul(x, wt, z, false, true), steps),
        time(() -> matmul(d, x, dwt, true, false), steps),
        inputGradient ? time(() -> matmul(d, wt, g, false, false), steps) : 0
      };
      double layerFlops = 2.0 * batch * in * out * (inputGradient ? 3 : 2);
      flops += layerFlops;
      double gs = gemm[0] + gemm[1] + gemm[2];
      double ms = matmul[0] + matmul[1] + matmul[2];
      gemmMs += gs;
      matmulMs += ms;
      rows.append(
          String.format(
              Locale.ROOT,
              "| L%d %dx%dx%d | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %.1f |%n",
              l,
              batch,
              in,
              out,
              gemm[0],
              gemm[1],
              gemm[2],
              matmul[0],
              matmul[1],
              matmul[2],
              layerFlops / (Math.min(gs, ms) * 1e6)));
      in = out;
    }
    return String.format(
            Locale.ROOT,
            "%nthe step's products alone (ms: forward / weight gradient / input gradient):%n"
                + "| layer | Nd4j.gemm | matmul op | GFLOP/s (faster) |%n|---|---|---|---:|%n")
        + rows
        + String.format(
            Locale.ROOT,
            "| all | %.3f | %.3f | %.1f |%n",
            gemmMs,
            matmulMs,
            flops / (Math.min(gemmMs, matmulMs) * 1e6));
  }

  private static double time(Runnable r, int steps) {
    for (int i = 0; i < 20; i++) {
      r.run();
    }
    long t = System.nanoTime();
    for (int i = 0; i < steps; i++) {
      r.run();
    }
    return (System.nanoTime() - t) / 1e6 / steps;
  }

  private static void matmul(INDArray a, INDArray b, INDArray out, boolean ta, boolean tb) {
    Nd4j.exec(
        DynamicCustomOp.builder("matmul")
            .addInputs(a, b)
            .addOutputs(out)
            .addIntegerArguments(ta ? 1 : 0, tb ? 1 : 0, 0)
            .build());
  }
}
