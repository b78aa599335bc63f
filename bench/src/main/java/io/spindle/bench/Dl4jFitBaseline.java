package io.spindle.bench;

import io.spindle.bench.BenchMetrics.EpochPoint;
import io.spindle.config.SpindleConfig;
import io.spindle.runtime.Nd4jRuntime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;

/**
 * The baseline a user would otherwise run: plain single-process DL4J {@code fit()} on the same
 * network, optimiser, global batch and data, with DL4J's own updater and workspaces, in this JVM
 * with a given number of ND4J threads. Mini-batches are built outside the timed region.
 */
final class Dl4jFitBaseline {
  private Dl4jFitBaseline() {}

  static SystemRun run(String system, SpindleConfig config, BenchData data, int threads) {
    Nd4jRuntime.configureThreads(threads);
    MultiLayerNetwork net = new MultiLayerNetwork(data.networkConfiguration(config));
    net.init();
    DataType type = net.params().dataType();
    int batch = config.training().batchSize();
    int epochs = config.training().epochs();
    Random rng = new Random(config.training().seed());
    List<DataSet> warmup = data.trainBatches(batch, type, rng);
    for (DataSet ds : warmup.subList(0, Math.min(10, warmup.size()))) {
      net.fit(ds); // JIT and native initialisation are not timed
    }
    long examples = 0;
    long steps = 0;
    long nanos = 0;
    List<EpochPoint> points = new ArrayList<>();
    for (int e = 0; e < epochs; e++) {
      List<DataSet> epoch = data.trainBatches(batch, type, rng);
      long t0 = System.nanoTime();
      for (DataSet ds : epoch) {
        net.fit(ds);
      }
      nanos += System.nanoTime() - t0;
      examples += data.train.size();
      steps += epoch.size();
      points.add(new EpochPoint(e + 1, nanos / 1e9, data.testAccuracy(net)));
    }
    return new SystemRun(
        system,
        1,
        threads,
        examples,
        steps,
        nanos / 1e9,
        points,
        points.get(points.size() - 1).testAccuracy(),
        0.0,
        "single process: nothing leaves the JVM",
        null,
        null,
        "sum of fit() calls; warm-up (10 steps) and batch building excluded",
        Map.of());
  }
}
