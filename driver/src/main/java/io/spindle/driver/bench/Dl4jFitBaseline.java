package io.spindle.driver.bench;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetSpec;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.model.ModelFactory;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.worker.MnistPartitionReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * The baseline a user would otherwise run: plain single-process DL4J {@code fit()} on the same
 * network, optimiser, global batch and data, with DL4J's own updater and workspaces, in this JVM
 * with a given number of ND4J threads.
 */
final class Dl4jFitBaseline {
  private Dl4jFitBaseline() {}

  record Result(double samplesPerSecond, double seconds, long examples, double testAccuracy) {}

  static Result run(SpindleConfig config, Map<String, Path> files, int threads, int epochs) {
    Nd4jRuntime.configureThreads(threads);
    List<Example> train = read(files, DatasetSpec.TRAIN_IMAGES, DatasetSpec.TRAIN_LABELS);
    List<Example> test = read(files, DatasetSpec.TEST_IMAGES, DatasetSpec.TEST_LABELS);
    int numFeatures = train.get(0).features().length;
    MultiLayerConfiguration conf =
        ModelFactory.configuration(config.model(), numFeatures, config.training().seed());
    conf.setTrainingWorkspaceMode(WorkspaceMode.ENABLED);
    for (var layer : conf.getConfs()) {
      if (layer.getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer base) {
        base.setIUpdater(updater(config.optimizer()));
      }
    }
    MultiLayerNetwork net = new MultiLayerNetwork(conf);
    net.init();
    DataType type = net.params().dataType();
    int batch = config.training().batchSize();
    Random rng = new Random(config.training().seed());
    // warm-up: a few steps so JIT and native init are not timed
    for (DataSet ds : batches(train, batch, type, rng).subList(0, 10)) {
      net.fit(ds);
    }
    long examples = 0;
    long nanos = 0;
    for (int e = 0; e < epochs; e++) {
      List<DataSet> epoch = batches(train, batch, type, rng); // built outside the timed region
      long t0 = System.nanoTime();
      for (DataSet ds : epoch) {
        net.fit(ds);
      }
      nanos += System.nanoTime() - t0;
      examples += train.size();
    }
    double seconds = nanos / 1e9;
    long correct = 0;
    for (DataSet ds : batches(test, 1000, type, null)) {
      INDArray predicted = net.output(ds.getFeatures(), false).argMax(1);
      INDArray actual = ds.getLabels().argMax(1);
      correct += predicted.eq(actual).castTo(DataType.INT32).sumNumber().longValue();
    }
    return new Result(examples / seconds, seconds, examples, (double) correct / test.size());
  }

  static IUpdater updater(OptimizerConfig o) {
    return switch (o.type()) {
      case ADAM -> new Adam(o.learningRate(), o.beta1(), o.beta2(), o.epsilon());
      case SGD -> new Sgd(o.learningRate());
      case NESTEROV -> new Nesterovs(o.learningRate(), o.momentum());
      default ->
          throw new IllegalArgumentException(
              "the DL4J baseline supports adam, sgd and nesterov, got " + o.type().configName());
    };
  }

  private static List<Example> read(Map<String, Path> files, String images, String labels) {
    return MnistPartitionReader.read(
        files.get(images).toUri().toString(),
        files.get(labels).toUri().toString(),
        10,
        0,
        Integer.MAX_VALUE);
  }

  private static List<DataSet> batches(List<Example> all, int size, DataType type, Random rng) {
    List<Example> order = new ArrayList<>(all);
    if (rng != null) {
      Collections.shuffle(order, rng);
    }
    int d = order.get(0).features().length;
    List<DataSet> out = new ArrayList<>();
    for (int i = 0; i < order.size(); i += size) {
      MiniBatch b = MiniBatch.of(i / size, d, order.subList(i, Math.min(order.size(), i + size)));
      INDArray x = b.featureArray(type);
      out.add(new DataSet(x, b.oneHotLabels(type, 10)));
    }
    return out;
  }
}
