package io.spindle.bench;

import io.spindle.bench.BenchMetrics.EpochPoint;
import io.spindle.config.SpindleConfig;
import io.spindle.runtime.Nd4jRuntime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.TrainingMaster;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.deeplearning4j.spark.impl.repartitioner.NoOpRepartitioner;
import org.deeplearning4j.spark.parameterserver.training.SharedTrainingMaster;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.parameterserver.distributed.conf.VoidConfiguration;

/**
 * DL4J Spark's two training masters on the same network, data and global batch, each in its own
 * Spark context ({@code local[workers]}, 127.0.0.1, Java serialisation: DL4J's masters fail on a
 * second {@code fit()} under Kryo), stopped afterwards. One {@code fit()} per epoch on an RDD of
 * mini-batches already cached on the executors (as if read there from storage); test accuracy is
 * computed on the driver between epochs, outside the timed region.
 *
 * <p>Configured as DL4J's documentation recommends: batch size per worker = global batch / workers,
 * the {@code Export} RDD approach (DL4J's default and recommendation), prefetching on the workers,
 * one ND4J thread per task (tasks share the cores). Parameter averaging additionally averages the
 * updater state ({@code saveUpdater(true)}) every {@value #AVERAGING_FREQUENCY} steps; gradient
 * sharing runs one worker per node with the {@link NoOpRepartitioner} (measured here: the default
 * repartitioner gives about 230 samples/s and two workers per node deadlock), and its parameter
 * server (Aeron UDP) bound to 127.0.0.1 only.
 */
final class Dl4jSparkBaseline {
  static final int AVERAGING_FREQUENCY = 5;
  static final int PREFETCH_BATCHES = 2;

  private Dl4jSparkBaseline() {}

  static SystemRun run(
      String system, SpindleConfig config, BenchData data, int workers, Path workDir) {
    boolean shared = system.equals(BenchCommand.DL4J_SPARK_SHARED);
    int global = config.training().batchSize();
    if (global % workers != 0) {
      throw new io.spindle.config.ConfigException(
          "training.batchSize: "
              + system
              + " needs a global batch divisible by the "
              + workers
              + " workers, got "
              + global);
    }
    int perWorker = global / workers;
    int threads = 1;
    Nd4jRuntime.configureThreads(threads);
    Path exportDir = workDir.resolve("export");
    SparkConf conf =
        new SparkConf()
            .setMaster("local[" + workers + "]")
            .setAppName("spindle bench " + system)
            .set("spark.driver.host", "127.0.0.1")
            .set("spark.driver.bindAddress", "127.0.0.1")
            .set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            .set("spark.serializer", "org.apache.spark.serializer.JavaSerializer");
    TrafficListener traffic = new TrafficListener();
    List<EpochPoint> points = new ArrayList<>();
    long nanos = 0;
    long examples = 0;
    long steps = 0;
    Map<String, Object> extra = new LinkedHashMap<>();
    try (JavaSparkContext sc = new JavaSparkContext(conf)) {
      sc.setLogLevel("WARN");
      sc.sc().addSparkListener(traffic);
      TrainingMaster<?, ?> master =
          shared
              ? sharedMaster(perWorker, exportDir, config.training().seed(), extra)
              : averagingMaster(perWorker, workers, exportDir, config.training().seed(), extra);
      SparkDl4jMultiLayer net =
          new SparkDl4jMultiLayer(sc, data.networkConfiguration(config), master);
      DataType type = net.getNetwork().params().dataType();
      Random rng = new Random(config.training().seed());
      for (int e = 0; e < config.training().epochs(); e++) {
        List<DataSet> batches = data.trainBatches(perWorker, type, rng);
        // cached on the executors before the clock starts, as if read there from storage
        JavaRDD<DataSet> rdd = sc.parallelize(batches, workers).persist(StorageLevel.MEMORY_ONLY());
        rdd.count();
        long t0 = System.nanoTime();
        net.fit(rdd);
        nanos += System.nanoTime() - t0;
        rdd.unpersist(true);
        examples += data.train.size();
        steps += (data.train.size() + global - 1) / global;
        points.add(new EpochPoint(e + 1, nanos / 1e9, data.testAccuracy(net.getNetwork())));
      }
      master.deleteTempFiles(sc);
    } finally {
      deleteRecursively(exportDir);
    }
    String method =
        TrafficListener.METHOD
            + (shared
                ? "; the gradient updates travel over DL4J's Aeron UDP transport outside Spark"
                    + " and are NOT counted, so this is a lower bound"
                : "");
    extra.put("broadcast_bytes", traffic.broadcastBytes());
    extra.put("task_result_bytes", traffic.resultBytes());
    extra.put("shuffle_write_bytes", traffic.shuffleBytes());
    return new SystemRun(
        system,
        workers,
        threads,
        examples,
        steps,
        nanos / 1e9,
        points,
        points.get(points.size() - 1).testAccuracy(),
        traffic.bytesPerWorkerPerStep(workers, steps),
        method,
        null,
        null,
        "sum of SparkDl4jMultiLayer.fit() calls, one per epoch (includes DL4J's export of the"
            + " data set); evaluation excluded",
        extra);
  }

  private static TrainingMaster<?, ?> averagingMaster(
      int perWorker, int workers, Path exportDir, long seed, Map<String, Object> extra) {
    extra.put(
        "config",
        "ParameterAveragingTrainingMaster: batchSizePerWorker "
            + perWorker
            + ", averagingFrequency "
            + AVERAGING_FREQUENCY
            + ", saveUpdater true, workerPrefetchNumBatches "
            + PREFETCH_BATCHES
            + ", RDDTrainingApproach.Export, Java serialisation");
    return new ParameterAveragingTrainingMaster.Builder(workers, perWorker)
        .batchSizePerWorker(perWorker)
        .averagingFrequency(AVERAGING_FREQUENCY)
        .saveUpdater(true)
        .workerPrefetchNumBatches(PREFETCH_BATCHES)
        .rddTrainingApproach(RDDTrainingApproach.Export)
        .exportDirectory(exportDir.toUri().toString())
        .rngSeed(seed)
        .build();
  }

  private static TrainingMaster<?, ?> sharedMaster(
      int perWorker, Path exportDir, long seed, Map<String, Object> extra) {
    // DL4J's embedded Aeron media driver sets a 30 s client liveness timeout, which Aeron refuses
    // unless the publication unblock timeout (default 15 s) is longer.
    System.setProperty(
        "aeron.publication.unblock.timeout", String.valueOf(TimeUnit.SECONDS.toNanos(60)));
    int port = freeLoopbackPort();
    VoidConfiguration voidConf =
        VoidConfiguration.builder()
            .unicastPort(port)
            .controllerAddress("127.0.0.1")
            .networkMask("127.0.0.0/8")
            .build();
    extra.put(
        "config",
        "SharedTrainingMaster: batchSizePerWorker "
            + perWorker
            + ", workersPerNode 1, NoOpRepartitioner, default threshold algorithm,"
            + " workerPrefetchNumBatches "
            + PREFETCH_BATCHES
            + ", RDDTrainingApproach.Export, VoidConfiguration 127.0.0.1:"
            + port
            + " (mask 127.0.0.0/8), Java serialisation");
    return new SharedTrainingMaster.Builder(voidConf, perWorker)
        .batchSizePerWorker(perWorker)
        .workersPerNode(1)
        .repartitioner(new NoOpRepartitioner())
        .workerPrefetchNumBatches(PREFETCH_BATCHES)
        .rddTrainingApproach(RDDTrainingApproach.Export)
        .exportDirectory(exportDir.toUri().toString())
        .rngSeed(seed)
        .build();
  }

  private static int freeLoopbackPort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find a free port on 127.0.0.1: " + e, e);
    }
  }

  private static void deleteRecursively(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + dir + ": " + e, e);
    }
  }
}
