package io.spindle.driver.bench;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.MiniBatch;
import io.spindle.driver.SparkContexts;
import io.spindle.driver.TrainJob;
import io.spindle.driver.data.DatasetLoader;
import io.spindle.driver.data.DistributedDataset;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Measures the data pipeline alone, without training: for the configured data set (MNIST by
 * default) and for generated CIFAR-10-layout files, the samples per second of (1) reading and
 * decoding the files on the executors, and (2) each epoch's global reshuffle into per-worker
 * mini-batches plus handing every batch to the workers as ND4J arrays through the prefetch queue
 * (what a training step receives). Writes {@code data-bench.json}.
 */
public final class DataBenchCommand {
  private DataBenchCommand() {}

  public static Map<String, Object> run(
      SpindleConfig config, int epochs, int cifarRecordsPerFile, Path outputDir, PrintStream out) {
    Map<String, Object> results = new LinkedHashMap<>();
    try (JavaSparkContext sc =
        SparkContexts.create(
            config.cluster(), "spindle data-bench", config.data().format().equals("table"))) {
      sc.setLogLevel("WARN");
      Map<String, Path> files = TrainJob.fetchData(config);
      results.put(
          config.data().dataset(),
          measure(sc, config, rootOf(config, files), epochs, config.data().dataset(), out));
      Path cifar = outputDir.resolve("cifar10-generated");
      generateCifar10(cifar, cifarRecordsPerFile);
      SpindleConfig cifarConfig =
          ConfigLoader.parse(
              ConfigLoader.toYaml(config),
              "data-bench",
              List.of("data.dataset=cifar10", "data.format=cifar10"));
      results.put(
          "cifar10-generated",
          measure(sc, cifarConfig, cifar.toUri().toString(), epochs, "cifar10-generated", out));
      deleteTree(cifar);
    }
    write(outputDir, results);
    return results;
  }

  private static String rootOf(SpindleConfig config, Map<String, Path> files) {
    if (!config.data().path().isEmpty()) {
      return config.data().path();
    }
    if (files.containsKey("folder")) {
      return files.get("folder").toUri().toString();
    }
    return files.get("train-images-idx3-ubyte.gz").getParent().toUri().toString();
  }

  static Map<String, Object> measure(
      JavaSparkContext sc,
      SpindleConfig config,
      String root,
      int epochs,
      String label,
      PrintStream out) {
    int workers = config.cluster().workers();
    int batch = config.training().batchSize();
    long t0 = System.nanoTime();
    Map<String, Object> r = new LinkedHashMap<>();
    try (DistributedDataset data =
        DatasetLoader.load(sc, config.data(), root, batch, workers, config.training().seed())) {
      double readSeconds = (System.nanoTime() - t0) / 1e9;
      long examples = data.numTrain() + data.numTest();
      r.put("train_examples", data.numTrain());
      r.put("features", data.numFeatures());
      r.put("read_decode_seconds", readSeconds);
      r.put("read_decode_samples_per_second", examples / readSeconds);
      List<Double> perEpoch = new ArrayList<>();
      for (int e = 0; e < epochs; e++) {
        long s = System.nanoTime();
        long seen = data.epoch(e).map(DataBenchCommand::consume).reduce(Long::sum);
        double seconds = (System.nanoTime() - s) / 1e9;
        if (seen != data.numTrain()) {
          throw new IllegalStateException(
              "epoch " + e + " delivered " + seen + " of " + data.numTrain() + " examples");
        }
        perEpoch.add(data.numTrain() / seconds);
      }
      r.put("epoch_samples_per_second", perEpoch);
      double best = perEpoch.stream().mapToDouble(Double::doubleValue).max().orElse(0);
      r.put("best_epoch_samples_per_second", best);
      double compute = computeRate(config, data);
      r.put("training_compute_samples_per_second_1_thread", compute);
      r.put("pipeline_over_training_ratio", best / compute);
      out.printf(
          "data-bench %s: %d train examples x %d features; read+decode %.0f samples/s (%.1f s);"
              + " shuffle+batch+deliver per epoch %s samples/s%n",
          label,
          data.numTrain(),
          data.numFeatures(),
          examples / readSeconds,
          readSeconds,
          perEpoch.stream().map(v -> String.format("%.0f", v)).toList());
      out.printf(
          "data-bench %s: the model's forward+backward alone, 1 ND4J thread, now: %.0f samples/s;"
              + " pipeline / training = %.1fx%n",
          label, compute, best / compute);
    }
    return r;
  }

  /**
   * Samples/s that training consumes on this machine right now: forward and backward passes of the
   * configured model (one ND4J thread, as one worker) over mini-batches of this data set, measured
   * in the same conditions as the pipeline so the ratio holds on a shared machine.
   */
  static double computeRate(SpindleConfig config, DistributedDataset data) {
    io.spindle.runtime.Nd4jRuntime.configureThreads(1);
    List<MiniBatch> batches = data.epoch(0).take(24);
    io.spindle.worker.ModelSpec spec =
        new io.spindle.worker.ModelSpec(
            config.model(),
            config.optimizer(),
            data.numFeatures(),
            data.numClasses(),
            config.training().seed(),
            1);
    return io.spindle.worker.NetworkPool.withNetwork(
        spec,
        net -> {
          long examples = 0;
          long start = 0;
          for (int i = 0; i < batches.size(); i++) {
            if (i == 4) {
              start = System.nanoTime(); // after warm-up
              examples = 0;
            }
            MiniBatch b = batches.get(i);
            if (!b.isEmpty()) {
              io.spindle.worker.PartitionTrainer.computeGradient(net, spec, b);
              examples += b.size();
            }
          }
          return examples / ((System.nanoTime() - start) / 1e9);
        });
  }

  /** What a training step does with a batch before compute: build its ND4J arrays. */
  private static long consume(MiniBatch b) {
    if (b.isEmpty()) {
      return 0;
    }
    INDArray x = b.featureArray(DataType.FLOAT);
    INDArray y = b.oneHotLabels(DataType.FLOAT, 10);
    long n = x.rows();
    x.close();
    y.close();
    return n;
  }

  /** CIFAR-10 binary layout with random pixels and labels: 5 training files and a test file. */
  static void generateCifar10(Path dir, int perFile) {
    try {
      Files.createDirectories(dir);
      SplittableRandom rng = new SplittableRandom(7);
      for (int f = 1; f <= 6; f++) {
        String name = f <= 5 ? "data_batch_" + f + ".bin" : "test_batch.bin";
        byte[] all = new byte[perFile * 3073];
        for (int r = 0; r < perFile; r++) {
          all[r * 3073] = (byte) rng.nextInt(10);
          for (int i = 1; i < 3073; i++) {
            all[r * 3073 + i] = (byte) rng.nextInt(256);
          }
        }
        Files.write(dir.resolve(name), all);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot write generated CIFAR files into " + dir, e);
    }
  }

  private static void deleteTree(Path dir) {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.deleteIfExists(p);
      }
      Files.deleteIfExists(dir);
    } catch (IOException ignored) {
      // generated scratch files; best effort
    }
  }

  private static void write(Path dir, Map<String, Object> results) {
    try {
      Files.createDirectories(dir);
      String json =
          new com.fasterxml.jackson.databind.ObjectMapper()
              .writerWithDefaultPrettyPrinter()
              .writeValueAsString(results);
      Path tmp = dir.resolve(".data-bench.json.tmp");
      Files.writeString(tmp, json, StandardCharsets.UTF_8);
      Files.move(
          tmp,
          dir.resolve("data-bench.json"),
          java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new IllegalStateException("cannot write data-bench.json into " + dir, e);
    }
  }
}
