package io.spindle.bench;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.data.MiniBatch;
import io.spindle.driver.RunOutput;
import io.spindle.driver.cluster.SparkContexts;
import io.spindle.driver.data.DatasetFiles;
import io.spindle.driver.data.DatasetLoader;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.job.TrainJob;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
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
 * Measures the data pipeline alone, without training, against what training consumes, and checks
 * the bar: delivery at least {@link #REQUIRED_RATIO} times the training rate.
 *
 * <p>Delivery is timed on the path training uses: the data set is read and decoded on the executors
 * and cached ({@link DatasetLoader}); then each epoch {@link DistributedDataset#epoch} reshuffles
 * it into per-worker step-ordered mini-batches (the shuffle job training runs before an epoch's
 * rounds) and a stage over those partitions, like a training round's, pulls every batch through the
 * worker's prefetch iterator and builds its feature and label arrays in ND4J, as a training step
 * does before its forward pass; there is no forward pass. The steady-state figure is the median of
 * the epochs after the first (the first includes JIT warm-up); the first epoch is reported too,
 * alone and with the reading.
 *
 * <p>Consumption: for MNIST, Spindle's own training job with the same config (default: the MLP,
 * collective engine, {@code cluster.workers} workers), its rate in training rounds (shuffles and
 * evaluation excluded), or a cited figure; for CIFAR-sized input, a convolutional network ({@link
 * CnnSpec}) through Spindle's training step on random 3x32x32 batches, with 1 and 2 ND4J threads.
 */
public final class DataBenchCommand {
  /** Delivery must be at least this many times the samples/s training consumes. */
  public static final double REQUIRED_RATIO = 5.0;

  private DataBenchCommand() {}

  /**
   * What to run.
   *
   * @param epochs epochs to time per data set (at least 2: the first is reported apart)
   * @param cifarRecordsPerFile records per generated CIFAR-10 file (5 training files + 1 test)
   * @param mnistTrainingRate a cited training rate for the configured data set (samples/s), or 0 to
   *     measure it by training
   * @param trainingEpochs epochs of the measured training run
   * @param cnn the CIFAR-sized convolutional network
   * @param cnnSteps timed training steps per thread count (after 2 warm-up steps)
   * @param cnnRate a cited CNN training rate (samples/s), or 0 to measure it
   */
  public record Options(
      int epochs,
      int cifarRecordsPerFile,
      double mnistTrainingRate,
      int trainingEpochs,
      CnnSpec cnn,
      int cnnSteps,
      double cnnRate) {
    public Options {
      if (epochs < 2 || cifarRecordsPerFile <= 0 || trainingEpochs <= 0 || cnnSteps <= 0) {
        throw new io.spindle.config.ConfigException(
            "data-bench: expected --epochs >= 2 and positive --cifar-records, --training-epochs,"
                + " --cnn-steps; got "
                + epochs
                + ", "
                + cifarRecordsPerFile
                + ", "
                + trainingEpochs
                + ", "
                + cnnSteps);
      }
      if (!(mnistTrainingRate >= 0) || !(cnnRate >= 0)) {
        throw new io.spindle.config.ConfigException(
            "data-bench: cited rates must be positive samples/s figures, got "
                + mnistTrainingRate
                + " and "
                + cnnRate);
      }
    }
  }

  public static Map<String, Object> run(
      SpindleConfig config, Options options, Path outputDir, PrintStream out) {
    Map<String, Object> results = new LinkedHashMap<>();
    results.put("required_ratio", REQUIRED_RATIO);
    results.put("cores", Runtime.getRuntime().availableProcessors());
    results.put("load_average_at_start", loadAverage());
    results.put("workers", config.cluster().workers());
    results.put("global_batch", config.training().batchSize());
    String name = config.data().dataset();
    Map<String, Object> first = new LinkedHashMap<>();
    Map<String, Object> cifarResult = new LinkedHashMap<>();
    try (JavaSparkContext sc =
        SparkContexts.create(
            config.cluster(), "spindle data-bench", config.data().format().equals("table"))) {
      sc.setLogLevel("WARN");
      Map<String, Path> files = DatasetFiles.fetch(config);
      first.put(
          "delivery",
          measure(sc, config, DatasetFiles.root(config, files), options.epochs(), name, out));
      first.put("training", trainingRate(sc, config, files, options, outputDir, out));
      Path cifar = outputDir.resolve("cifar10-generated");
      generateCifar10(cifar, options.cifarRecordsPerFile());
      SpindleConfig cifarConfig =
          ConfigLoader.parse(
              ConfigLoader.toYaml(config),
              "data-bench",
              List.of("data.dataset=cifar10", "data.format=cifar10"));
      String cifarRoot = cifar.toUri().toString();
      cifarResult.put(
          "delivery",
          measure(sc, cifarConfig, cifarRoot, options.epochs(), "cifar10-generated", out));
      deleteTree(cifar);
    }
    cifarResult.put("training", cnnRate(options, config.cluster().workers(), out));
    results.put(name, verdict(name, first, out));
    results.put("cifar10-generated", verdict("cifar10-generated", cifarResult, out));
    results.put("load_average_at_end", loadAverage());
    out.printf(
        "data-bench: load average %.2f at start, %.2f at end, %d cores%n",
        (Double) results.get("load_average_at_start"),
        (Double) results.get("load_average_at_end"),
        Runtime.getRuntime().availableProcessors());
    write(outputDir, results);
    return results;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> verdict(String label, Map<String, Object> r, PrintStream out) {
    double delivery =
        (Double) ((Map<String, Object>) r.get("delivery")).get("steady_samples_per_second");
    double training =
        (Double) ((Map<String, Object>) r.get("training")).get("consumption_samples_per_second");
    double ratio = delivery / training;
    boolean pass = ratio >= REQUIRED_RATIO;
    r.put("ratio", ratio);
    r.put("pass", pass);
    out.printf(
        "data-bench %s: delivery %.0f samples/s / training %.0f samples/s = %.1fx -> %s (>= %.0fx)%n",
        label, delivery, training, ratio, pass ? "PASS" : "FAIL", REQUIRED_RATIO);
    return r;
  }

  static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  /** CPU seconds this JVM has used (all threads: driver, executors' task threads, GC). */
  static double cpuSeconds() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime() / 1e9;
    }
    return Double.NaN;
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
    double cpu0 = cpuSeconds();
    Map<String, Object> r = new LinkedHashMap<>();
    try (DistributedDataset data =
        DatasetLoader.load(sc, config.data(), root, batch, workers, config.training().seed())) {
      double readSeconds = (System.nanoTime() - t0) / 1e9;
      long examples = data.numTrain() + data.numTest();
      int n = data.numTrain();
      r.put("train_examples", n);
      r.put("features", data.numFeatures());
      r.put("read_decode_seconds", readSeconds);
      r.put("read_decode_cpu_seconds", cpuSeconds() - cpu0);
      r.put("read_decode_samples_per_second", examples / readSeconds);
      List<Double> rates = new ArrayList<>();
      List<Double> shuffleSeconds = new ArrayList<>();
      List<Double> deliverSeconds = new ArrayList<>();
      List<Double> cpuPerEpoch = new ArrayList<>();
      for (int e = 0; e < epochs; e++) {
        long s = System.nanoTime();
        double c = cpuSeconds();
        var batches = data.epoch(e);
        long shuffled = System.nanoTime();
        long seen = batches.map(DataBenchCommand::consume).reduce(Long::sum);
        long end = System.nanoTime();
        if (seen != n) {
          throw new IllegalStateException(
              "epoch " + e + " delivered " + seen + " of " + n + " examples");
        }
        shuffleSeconds.add((shuffled - s) / 1e9);
        deliverSeconds.add((end - shuffled) / 1e9);
        cpuPerEpoch.add(cpuSeconds() - c);
        rates.add(n / ((end - s) / 1e9));
      }
      List<Double> steady = new ArrayList<>(rates.subList(1, rates.size()));
      steady.sort(null);
      double median =
          steady.size() % 2 == 1
              ? steady.get(steady.size() / 2)
              : (steady.get(steady.size() / 2 - 1) + steady.get(steady.size() / 2)) / 2;
      double firstSeconds = shuffleSeconds.get(0) + deliverSeconds.get(0);
      double steadyCpu =
          cpuPerEpoch.subList(1, epochs).stream().mapToDouble(Double::doubleValue).sum()
              / (epochs - 1);
      r.put("epoch_samples_per_second", rates);
      r.put("epoch_shuffle_seconds", shuffleSeconds);
      r.put("epoch_deliver_seconds", deliverSeconds);
      r.put("epoch_cpu_seconds", cpuPerEpoch);
      r.put("first_epoch_samples_per_second", rates.get(0));
      r.put("first_epoch_with_read_samples_per_second", n / (readSeconds + firstSeconds));
      r.put("steady_samples_per_second", median);
      r.put("steady_best_samples_per_second", steady.get(steady.size() - 1));
      r.put("steady_samples_per_cpu_second", n / steadyCpu);
      out.printf(
          "data-bench %s: %d train examples x %d features; read+decode %.0f samples/s (%.1f s);"
              + " per epoch (shuffle + deliver) %s samples/s%n",
          label,
          n,
          data.numFeatures(),
          examples / readSeconds,
          readSeconds,
          rates.stream().map(v -> String.format("%.0f", v)).toList());
      out.printf(
          "data-bench %s: delivery steady state (median of epochs 2..%d) %.0f samples/s,"
              + " %.0f per CPU-second; first epoch %.0f samples/s, %.0f with reading%n",
          label, epochs, median, n / steadyCpu, rates.get(0), n / (readSeconds + firstSeconds));
    }
    return r;
  }

  /**
   * What training consumes on the configured data set: Spindle's training job with this config for
   * {@code options.trainingEpochs()} epochs (the fastest epoch's rate in training rounds), or the
   * cited figure.
   */
  static Map<String, Object> trainingRate(
      JavaSparkContext sc,
      SpindleConfig config,
      Map<String, Path> files,
      Options options,
      Path outputDir,
      PrintStream out) {
    Map<String, Object> r = new LinkedHashMap<>();
    if (options.mnistTrainingRate() > 0) {
      r.put("source", "cited (--training-rate)");
      r.put("consumption_samples_per_second", options.mnistTrainingRate());
      return r;
    }
    SpindleConfig train =
        ConfigLoader.parse(
            ConfigLoader.toYaml(config),
            "data-bench",
            List.of("training.epochs=" + options.trainingEpochs(), "checkpoint.everyEpoch=false"));
    Path dir = outputDir.resolve("train-" + config.data().dataset());
    out.printf(
        "data-bench %s: training with this config for %d epoch(s) (sync %s, %d workers) to measure"
            + " consumption%n",
        config.data().dataset(),
        options.trainingEpochs(),
        config.cluster().sync().configName(),
        config.cluster().workers());
    Map<String, Object> summary = TrainJob.run(sc, train, files, new RunOutput(dir), out);
    List<Double> perEpoch = epochRates(dir.resolve("metrics.jsonl"));
    double best = perEpoch.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    r.put(
        "source",
        "measured: spindle train, sync "
            + config.cluster().sync().configName()
            + ", "
            + config.cluster().workers()
            + " workers, "
            + options.trainingEpochs()
            + " epoch(s); the fastest epoch's rate in training rounds");
    r.put("epoch_samples_per_second", perEpoch);
    r.put("run_samples_per_second", summary.get("samples_per_second"));
    r.put("test_accuracy", summary.get("test_accuracy"));
    r.put("consumption_samples_per_second", best);
    out.printf(
        "data-bench %s: training consumes %.0f samples/s (fastest epoch of %s)%n",
        config.data().dataset(), best, perEpoch);
    return r;
  }

  private static List<Double> epochRates(Path metrics) {
    List<Double> out = new ArrayList<>();
    try {
      var json = new com.fasterxml.jackson.databind.ObjectMapper();
      for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
        var node = json.readTree(line);
        if ("epoch".equals(node.path("type").asText())) {
          out.add(node.path("samples_per_second").asDouble());
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + metrics, e);
    }
    if (out.isEmpty()) {
      throw new IllegalStateException(metrics + ": no epoch record");
    }
    return out;
  }

  /**
   * What a CIFAR-sized convolutional network consumes: Spindle's training step on one worker with 1
   * and 2 ND4J threads; the consumption is the larger of the 2-thread rate and {@code workers}
   * times the 1-thread rate (data-parallel workers with one thread each, scaling perfectly), an
   * upper bound.
   */
  static Map<String, Object> cnnRate(Options options, int workers, PrintStream out) {
    Map<String, Object> r = new LinkedHashMap<>();
    if (options.cnnRate() > 0) {
      r.put("source", "cited (--cnn-rate)");
      r.put("consumption_samples_per_second", options.cnnRate());
      return r;
    }
    r.put(
        "source",
        "measured: Spindle's training step (forward, backward, Adam) of the CNN below on random"
            + " 3x32x32 batches, one worker");
    r.put("cnn", options.cnn().toString());
    r.put("batch", options.cnn().batch());
    double one = options.cnn().stepRate(1, options.cnnSteps());
    double two = options.cnn().stepRate(2, options.cnnSteps());
    double consumption = Math.max(two, workers * one);
    r.put("step_samples_per_second_1_thread", one);
    r.put("step_samples_per_second_2_threads", two);
    r.put("consumption_samples_per_second", consumption);
    r.put("consumption_rule", "max(2 threads, workers x 1 thread)");
    out.printf(
        "data-bench cifar10-generated: CNN %s training step: %.0f samples/s on 1 thread, %.0f on"
            + " 2; consumption max(%.0f, %d x %.0f) = %.0f samples/s%n",
        options.cnn(), one, two, two, workers, one, consumption);
    io.spindle.runtime.Nd4jRuntime.configureThreads(1);
    return r;
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
