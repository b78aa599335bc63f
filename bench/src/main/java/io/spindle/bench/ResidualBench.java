package io.spindle.bench;

import io.spindle.config.ConfigLoader;
import io.spindle.config.DataConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.data.CifarGenerator;
import io.spindle.data.ImageAugmentation;
import io.spindle.data.ImageTransform;
import io.spindle.data.MiniBatch;
import io.spindle.driver.cluster.SparkContexts;
import io.spindle.driver.data.DatasetLoader;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.model.GraphFactory;
import io.spindle.model.ModelFlops;
import io.spindle.runtime.Nd4jRuntime;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Residual networks and their input pipeline on this machine, for one config (issue 15): what a
 * training step of the graph model costs, and whether decoding and augmentation keep up with it.
 *
 * <ol>
 *   <li><b>Model step</b>: the config's graph model ({@link GraphFactory}, oneDNN kernels), one
 *       forward and backward pass ({@code computeGradientAndScore}) on random input at the batch a
 *       worker gets (global batch / workers), with 1 and with 2 ND4J threads, after warm-up steps;
 *       the forward multiply-adds per example ({@link ModelFlops}), training GFLOP/s (6 x MACs per
 *       example), and the projected epoch time with {@code cluster.workers} workers of one thread
 *       each (the compute bound: no synchronisation, shuffle or evaluation counted).
 *   <li><b>Augmentation per core</b>: {@link ImageAugmentation#train} of the config's {@code
 *       data.augment} on random batches of the stored image shape, one thread; for image folders
 *       also the decoding of a generated 500x375 JPEG into stored pixels ({@link
 *       ImageTransform#pixels}), which an image folder pays once per epoch per image when it is
 *       read.
 *   <li><b>Delivery</b>: the pipeline training uses, with the augmentation in the prefetch thread:
 *       generated CIFAR-10 files (or the configured IDX data set) read and cached on the executors,
 *       then per epoch the shuffle and a stage that pulls every batch through the worker's prefetch
 *       iterator (which augments) and builds its ND4J arrays, in Spark local mode with {@code
 *       cluster.workers} task slots; steady state = median of the epochs after the first.
 * </ol>
 *
 * The verdict compares delivery (and augmentation per core) with the model's consumption.
 *
 * <pre>
 * java -cp "bench/target/lib/*:bench/target/classes" io.spindle.bench.ResidualBench \
 *     --config deploy/examples/fashion-mnist-resnet.yaml [--steps 5] [--epochs 4] [--output DIR]
 * </pre>
 *
 * {@code --model-only} runs part 1 alone.
 */
public final class ResidualBench {
  /** Untimed steps before each timed series. */
  static final int WARMUP = 3;

  private ResidualBench() {}

  public static void main(String[] args) throws Exception {
    Nd4jRuntime.selectNativeBuild();
    Path config = null;
    List<String> sets = new ArrayList<>();
    int steps = 5;
    int epochs = 4;
    boolean modelOnly = false;
    Path output = Path.of("runs", "residual-bench");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--config" -> config = Path.of(args[++i]);
        case "--set" -> sets.add(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--epochs" -> epochs = Integer.parseInt(args[++i]);
        case "--output" -> output = Path.of(args[++i]);
        case "--model-only" -> modelOnly = true;
        default ->
            throw new IllegalArgumentException(
                "unknown option "
                    + args[i]
                    + "; expected --config FILE, --set k=v, --steps N, --epochs N, --output DIR,"
                    + " --model-only");
      }
    }
    SpindleConfig c = ConfigLoader.load(config, sets);
    Map<String, Object> results = run(c, steps, modelOnly ? 0 : epochs, output, System.out);
    Files.createDirectories(output);
    Files.writeString(output.resolve("residual-bench.txt"), results.toString() + "\n");
  }

  public static Map<String, Object> run(
      SpindleConfig c, int steps, int epochs, Path output, PrintStream out) throws Exception {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("load_average_at_start", load());
    DataConfig data = c.data();
    int workers = c.cluster().workers();
    int perWorker = Math.max(1, c.training().batchSize() / workers);
    int[] stored = storedShape(data);
    int side = data.effectiveFormat().equals("image_folder") ? data.imageSize() : stored[1];
    int features = stored[0] * side * side;
    int trainSize = trainSize(data);

    // 1. model step
    ComputationGraph net = GraphFactory.create(c.model(), features, c.training().seed());
    long macs =
        ModelFlops.multiplyAdds(
            GraphFactory.configuration(c.model(), features, c.training().seed()),
            InputType.convolutional(side, side, stored[0]));
    r.put("parameters", net.numParams());
    r.put("forward_multiply_adds_per_example", macs);
    double[] rate = new double[3];
    double[] cpuRate = new double[3];
    // one thread, two threads, then one thread again: the first passes also warm up DL4J's
    // workspaces and oneDNN's kernels (several seconds per step at first); the last figure per
    // thread count is kept
    for (int threads : new int[] {1, 2, 1}) {
      Nd4jRuntime.configureThreads(threads);
      double[] t = stepSeconds(net, perWorker, features, c.model().outputLayer().units(), steps);
      rate[threads] = perWorker / t[0];
      cpuRate[threads] = perWorker / t[2];
      out.printf(
          Locale.ROOT,
          "model step, batch %d, %d thread(s): median %.3f s/step (fastest %.3f, %.3f CPU s on"
              + " average), %.1f samples/s (fastest step: %.1f), %.1f training GFLOP/s (fastest:"
              + " %.1f; %.1f M multiply-adds forward per example)%n",
          perWorker,
          threads,
          t[0],
          t[2],
          t[1],
          rate[threads],
          cpuRate[threads],
          6.0 * macs * rate[threads] / 1e9,
          6.0 * macs * cpuRate[threads] / 1e9,
          macs / 1e6);
      r.put("fastest_step_seconds_" + threads + "t", t[2]);
      r.put("step_seconds_" + threads + "t", t[0]);
      r.put("step_cpu_seconds_" + threads + "t", t[1]);
      r.put("samples_per_second_" + threads + "t", rate[threads]);
    }
    double consumption = Math.max(workers * rate[1], rate[2]);
    r.put("consumption_samples_per_second", consumption);
    r.put("projected_epoch_seconds", trainSize / consumption);
    r.put("projected_idle_epoch_seconds", trainSize / (workers * cpuRate[1]));
    out.printf(
        Locale.ROOT,
        "projected: %d workers x 1 thread = %.1f samples/s (%.0f s per epoch of %,d examples);"
            + " at the fastest step's rate %.1f samples/s, %.0f s per epoch (compute only)%n",
        workers,
        workers * rate[1],
        trainSize / (workers * rate[1]),
        trainSize,
        workers * cpuRate[1],
        trainSize / (workers * cpuRate[1]));

    // 2. augmentation per core
    Nd4jRuntime.configureThreads(1);
    if (data.augment().active() && epochs > 0) {
      ImageAugmentation aug =
          ImageAugmentation.of(
              data.augment(), stored, side == stored[1] ? 0 : side, c.training().seed());
      double augRate = augmentRate(aug, stored, perWorker);
      r.put("augment_samples_per_second_per_core", augRate);
      out.printf(
          Locale.ROOT,
          "augmentation (%s, flip %s) %dx%dx%d -> %dx%d: %.0f samples/s on one core = %.0fx one"
              + " worker's consumption%n",
          data.augment().crop(),
          data.augment().flip(),
          stored[0],
          stored[1],
          stored[2],
          side,
          side,
          augRate,
          augRate / rate[1]);
    }
    if (data.effectiveFormat().equals("image_folder") && epochs > 0) {
      double decode = decodeRate(data);
      r.put("jpeg_decode_samples_per_second_per_core", decode);
      out.printf(
          Locale.ROOT,
          "JPEG 500x375 decode + resize to %d + centre crop: %.0f images/s on one core = %.0fx one"
              + " worker's consumption%n",
          data.imageResize(),
          decode,
          decode / rate[1]);
    }

    // 3. delivery through the pipeline
    if (!data.effectiveFormat().equals("image_folder") && epochs > 0) {
      double delivery = delivery(c, epochs, output, out);
      r.put("delivery_steady_samples_per_second", delivery);
      r.put("delivery_over_consumption", delivery / consumption);
      out.printf(
          Locale.ROOT,
          "delivery / consumption = %.0f / %.1f = %.0fx -> %s (>= 5x)%n",
          delivery,
          consumption,
          delivery / consumption,
          delivery >= 5 * consumption ? "PASS" : "FAIL");
    }
    r.put("load_average_at_end", load());
    out.printf(
        Locale.ROOT,
        "load average %.2f at start, %.2f at end%n",
        (Double) r.get("load_average_at_start"),
        (Double) r.get("load_average_at_end"));
    return r;
  }

  static int[] storedShape(DataConfig data) {
    return switch (data.effectiveFormat()) {
      case "idx" -> new int[] {1, 28, 28};
      case "cifar10", "cifar100" -> new int[] {3, 32, 32};
      case "image_folder" ->
          data.augment().active()
              ? new int[] {3, data.imageResize(), data.imageResize()}
              : new int[] {3, data.imageSize(), data.imageSize()};
      default ->
          throw new IllegalArgumentException(
              "residual bench: image data sets only, got format " + data.effectiveFormat());
    };
  }

  static int trainSize(DataConfig data) {
    int n =
        switch (data.effectiveFormat()) {
          case "idx" -> 60_000;
          case "cifar10", "cifar100" -> 50_000;
          default -> 1_281_167; // ImageNet-1k
        };
    return data.trainLimit() == 0 ? n : Math.min(n, data.trainLimit());
  }

  /**
   * Median wall seconds, mean process CPU seconds and the fastest wall seconds of {@code steps}
   * forward-backward passes after {@link #WARMUP} warm-up ones. On a shared machine the fastest
   * step is the best estimate of an idle machine's (as the best-of-n matmul peak).
   */
  static double[] stepSeconds(
      ComputationGraph net, int batch, int features, int classes, int steps) {
    INDArray x = Nd4j.rand(DataType.FLOAT, batch, features);
    INDArray y = Nd4j.zeros(DataType.FLOAT, batch, classes);
    for (int i = 0; i < batch; i++) {
      y.putScalar(i, i % classes, 1.0);
    }
    var os =
        (com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    List<Double> times = new ArrayList<>();
    long cpu0 = 0;
    for (int s = 0; s < steps + WARMUP; s++) {
      if (s == WARMUP) {
        cpu0 = os.getProcessCpuTime();
      }
      long t0 = System.nanoTime();
      net.setInputs(x);
      net.setLabels(y);
      net.computeGradientAndScore();
      if (s >= WARMUP) {
        times.add((System.nanoTime() - t0) / 1e9);
      }
    }
    double cpu = (os.getProcessCpuTime() - cpu0) / 1e9 / steps;
    Collections.sort(times);
    return new double[] {times.get(times.size() / 2), cpu, times.get(0)};
  }

  static double augmentRate(ImageAugmentation aug, int[] shape, int batch) {
    int d = shape[0] * shape[1] * shape[2];
    byte[] px = new byte[batch * d];
    new SplittableRandom(1).nextBytes(px);
    MiniBatch b = MiniBatch.ofPixels(0, batch, d, px, new int[batch], shape);
    long examples = 0;
    long t0 = System.nanoTime();
    int epoch = 0;
    while (System.nanoTime() - t0 < 3e9 || examples < 4L * batch) {
      int e = epoch++;
      aug.train(b, e, row -> row);
      examples += batch;
    }
    return examples / ((System.nanoTime() - t0) / 1e9);
  }

  static double decodeRate(DataConfig data) throws IOException {
    java.awt.image.BufferedImage img =
        new java.awt.image.BufferedImage(500, 375, java.awt.image.BufferedImage.TYPE_INT_RGB);
    SplittableRandom rng = new SplittableRandom(3);
    for (int y = 0; y < 375; y++) {
      for (int x = 0; x < 500; x++) {
        int v = (int) (128 + 60 * Math.sin(x / 17.0) + 40 * Math.cos(y / 11.0));
        img.setRGB(x, y, (v << 16) | ((v / 2 + rng.nextInt(30)) << 8) | (255 - v));
      }
    }
    ByteArrayOutputStream jpeg = new ByteArrayOutputStream();
    javax.imageio.ImageIO.write(img, "jpg", jpeg);
    byte[] bytes = jpeg.toByteArray();
    ImageTransform t = ImageTransform.pixels(data.imageResize(), data.imageResize());
    long n = 0;
    long t0 = System.nanoTime();
    while (System.nanoTime() - t0 < 3e9 || n < 10) {
      t.apply("generated.jpg", bytes, (int) n, 0);
      n++;
    }
    return n / ((System.nanoTime() - t0) / 1e9);
  }

  /** Steady-state samples/s of the training pipeline with augmentation, as data-bench does. */
  static double delivery(SpindleConfig c, int epochs, Path output, PrintStream out)
      throws Exception {
    DataConfig data = c.data();
    String root;
    Path generated = null;
    if (data.effectiveFormat().startsWith("cifar")) {
      generated = output.resolve("cifar10-generated");
      CifarGenerator.write(generated, CifarGenerator.OFFICIAL_PER_FILE, 1);
      root = generated.toUri().toString();
      data =
          ConfigLoader.parse(
                  ConfigLoader.toYaml(c),
                  "residual-bench",
                  List.of("data.dataset=cifar10", "data.format=cifar10", "data.path=" + root))
              .data();
    } else {
      String mirror =
          !data.mirror().isEmpty() ? data.mirror() : System.getenv("SPINDLE_DATA_MIRROR");
      if (mirror == null || mirror.isEmpty()) {
        throw new IllegalArgumentException(
            "residual bench: set SPINDLE_DATA_MIRROR (or data.mirror) to a folder holding "
                + data.dataset()
                + "/ in the official layout");
      }
      root = Path.of(mirror).resolve(data.dataset()).toAbsolutePath().toUri().toString();
    }
    List<Double> rates = new ArrayList<>();
    try (JavaSparkContext sc = SparkContexts.create(c.cluster(), "spindle residual-bench", false)) {
      sc.setLogLevel("WARN");
      try (DistributedDataset d =
          DatasetLoader.load(
              sc,
              data,
              root,
              c.training().batchSize(),
              c.cluster().workers(),
              c.training().seed())) {
        for (int e = 0; e < epochs; e++) {
          long t0 = System.nanoTime();
          long examples =
              d.epoch(e)
                  .mapPartitions(
                      it -> {
                        long n = 0;
                        while (it.hasNext()) {
                          MiniBatch b = it.next();
                          if (!b.isEmpty()) {
                            INDArray x = b.featureArray(DataType.FLOAT);
                            n += x.size(0);
                          }
                        }
                        return List.of(n).iterator();
                      })
                  .reduce(Long::sum);
          double rate = examples / ((System.nanoTime() - t0) / 1e9);
          rates.add(rate);
          out.printf(
              Locale.ROOT,
              "delivery epoch %d: %,d examples, %.0f samples/s (shuffle + augment + arrays)%n",
              e + 1,
              examples,
              rate);
        }
      }
    } finally {
      if (generated != null) {
        try (var files = Files.list(generated)) {
          for (Path p : files.toList()) {
            Files.delete(p);
          }
        }
        Files.delete(generated);
      }
    }
    List<Double> steady = new ArrayList<>(rates.subList(1, rates.size()));
    Collections.sort(steady);
    return steady.get(steady.size() / 2);
  }

  private static double load() {
    return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }
}
