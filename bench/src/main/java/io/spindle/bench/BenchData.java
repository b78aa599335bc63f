package io.spindle.bench;

import io.spindle.config.OptimizerConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetSpec;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.model.ModelFactory;
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
 * What the DL4J baselines share: the data set read with Spindle's own reader (same files, same
 * {@code data.trainLimit}), the network built by Spindle's {@link ModelFactory} (same layers,
 * initialisation and seed) with DL4J's own updater, and test accuracy on the driver.
 */
final class BenchData {
  final List<Example> train;
  final List<Example> test;
  final int numFeatures;
  final int numClasses;

  private BenchData(List<Example> train, List<Example> test, int numClasses) {
    this.train = train;
    this.test = test;
    this.numFeatures = train.get(0).features().length;
    this.numClasses = numClasses;
  }

  static BenchData load(SpindleConfig config, Map<String, Path> files) {
    DatasetSpec spec = DatasetSpec.named(config.data().dataset());
    int limit = config.data().trainLimit() > 0 ? config.data().trainLimit() : Integer.MAX_VALUE;
    List<Example> train =
        read(files, DatasetSpec.TRAIN_IMAGES, DatasetSpec.TRAIN_LABELS, spec.numClasses(), limit);
    List<Example> test =
        read(
            files,
            DatasetSpec.TEST_IMAGES,
            DatasetSpec.TEST_LABELS,
            spec.numClasses(),
            Integer.MAX_VALUE);
    return new BenchData(train, test, spec.numClasses());
  }

  /** Spindle's network configuration with DL4J's own updater and workspaces. */
  MultiLayerConfiguration networkConfiguration(SpindleConfig config) {
    MultiLayerConfiguration conf =
        ModelFactory.configuration(config.model(), numFeatures, config.training().seed());
    conf.setTrainingWorkspaceMode(WorkspaceMode.ENABLED);
    for (var layer : conf.getConfs()) {
      if (layer.getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer base) {
        base.setIUpdater(updater(config.optimizer()));
      }
    }
    return conf;
  }

  static IUpdater updater(OptimizerConfig o) {
    if (!o.schedule().equals(io.spindle.config.ScheduleConfig.constant())) {
      throw new io.spindle.config.ConfigException(
          "optimizer.schedule: the bench compares systems at a constant learning rate, got "
              + o.schedule().type().configName()
              + " (remove optimizer.schedule)");
    }
    return switch (o.type()) {
      case ADAM -> new Adam(o.learningRate(), o.beta1(), o.beta2(), o.epsilon());
      case SGD -> new Sgd(o.learningRate());
      case NESTEROV -> new Nesterovs(o.learningRate(), o.momentum());
      default ->
          throw new io.spindle.config.ConfigException(
              "optimizer.type: the DL4J baselines support adam, sgd and nesterov, got "
                  + o.type().configName());
    };
  }

  /** The training set in mini-batches of {@code size}, shuffled by {@code rng} (null: in order). */
  List<DataSet> trainBatches(int size, DataType type, Random rng) {
    return batches(train, size, type, rng);
  }

  /** Fraction of the test set {@code net} classifies correctly (inference mode). */
  double testAccuracy(MultiLayerNetwork net) {
    DataType type = net.params().dataType();
    long correct = 0;
    for (DataSet ds : batches(test, 1000, type, null)) {
      INDArray predicted = net.output(ds.getFeatures(), false).argMax(1);
      INDArray actual = ds.getLabels().argMax(1);
      correct += predicted.eq(actual).castTo(DataType.INT32).sumNumber().longValue();
    }
    return (double) correct / test.size();
  }

  private List<DataSet> batches(List<Example> all, int size, DataType type, Random rng) {
    List<Example> order = new ArrayList<>(all);
    if (rng != null) {
      Collections.shuffle(order, rng);
    }
    List<DataSet> out = new ArrayList<>();
    for (int i = 0; i < order.size(); i += size) {
      MiniBatch b =
          MiniBatch.of(i / size, numFeatures, order.subList(i, Math.min(order.size(), i + size)));
      out.add(new DataSet(b.featureArray(type), b.oneHotLabels(type, numClasses)));
    }
    return out;
  }

  private static List<Example> read(
      Map<String, Path> files, String images, String labels, int numClasses, int limit) {
    return MnistPartitionReader.read(
        files.get(images).toUri().toString(),
        files.get(labels).toUri().toString(),
        numClasses,
        0,
        limit);
  }
}
