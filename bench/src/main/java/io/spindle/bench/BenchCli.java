package io.spindle.bench;

import io.spindle.config.CompressionSpec;
import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.cli.CommandOptions;
import io.spindle.driver.cli.ExitCode;
import io.spindle.driver.cli.SpindleCli;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code spindle bench} and {@code spindle data-bench} (the launcher runs this class with the bench
 * module's classpath, which alone holds DL4J Spark's jars), parsed by the same {@link
 * CommandOptions} as {@code spindle train}.
 */
public final class BenchCli {
  static final int DEFAULT_EPOCHS = 2;
  static final double DEFAULT_TARGET = 0.97;
  static final int DEFAULT_PEAK_SIZE = 2048;

  static final String USAGE =
      """
      Usage: spindle bench [--config FILE] [--set key=value ...] [--output DIR] [--epochs N]
                           [--workers N] [--systems a,b,...] [--target ACC] [--peak-size N]
                           [--model mlp|cnn] [--profile [--profile-steps N]] [--profile-collective]

      Trains the configured model (default: the MLP 784-800-800-10 with dropout on MNIST,
      Adam 0.001, global batch 256) with each system in turn, in one process on this machine,
      after measuring the fp32 matmul peak (1 and 2 threads; ND4J's, and PyTorch's when a
      PyTorch system runs: each % peak is over the faster) and the one-thread compute time of a
      step. Writes bench.json (one object per system), bench.txt (a table with ratios
      against the faster DL4J fit()) and bench.png (a chart) into the output directory, and each
      Spindle system's run directory beside them.

      Options:
        --config FILE     YAML config (model, data, optimizer, training.batchSize, ...)
        --set key=value   override one key, e.g. --set model.layers[0].units=500,
                          --set data.dataset=fashion-mnist, --set data.trainLimit=10000
        --output DIR      output directory (default: runs/bench-<timestamp>)
        --epochs N        epochs per system (default 2)
        --workers N       data-parallel workers of the Spark systems (default cluster.workers, 2)
        --systems LIST    comma-separated, from: dl4j-fit-1t, dl4j-fit-2t,
                          spindle-gradient-sharing, spindle-collective,
                          spindle-parameter-averaging, spindle-collective-1w,
                          dl4j-spark-parameter-averaging, dl4j-spark-shared,
                          pytorch-1t, pytorch, pytorch-ddp (default: all; with --model cnn:
                          spindle-collective, spindle-collective-1w, pytorch-1t, pytorch,
                          pytorch-ddp)
        --target ACC      test accuracy for time_to_target_seconds (default 0.97)
        --peak-size N     n of the n x n fp32 products measuring the matmul peak (default 2048)
        --model NAME      mlp (default: the config, or the defaults) or cnn: the network of
                          deploy/examples/mnist-cnn.yaml at a constant learning rate
        --profile         instead of training: where one worker's step goes, per layer and per
                          phase, beside PyTorch's time for the same layers (profile.md/.json)
        --profile-steps N steps timed by --profile (default 200)
        --profile-collective  instead of training: the collective step's phases (wall and
                          thread CPU time) with the fast kernels and DL4J's layers, for one
                          worker alone, the workers side by side, and on a loopback ring
        --profile-dense   instead of training: one worker's fast dense step (the whole batch,
                          one thread) per phase, beside its products alone at the same shapes
        --help            show this help

      The PyTorch systems run through the first of $SPINDLE_PYTHON, /usr/bin/python3 and python3
      that imports torch (Debian: apt-get install python3-torch libopenblas0-pthread), and are
      reported as skipped, with the reason, when none does.
      Data comes from data.mirror, else $SPINDLE_DATA_MIRROR, else the official sites.
      """;

  static final String NETWORK_USAGE =
      """
      Usage: spindle bench --network RATE[,RATE...] [--config FILE] [--set key=value ...]
                           [--output DIR] [--epochs N] [--max-steps N] [--workers N[,N...]]
                           [--schemes S[,S...]] [--target ACC]

      Runs the collective engine's gradient exchanges over the network test bed (needs root and
      network namespaces; deploy/scripts/netbed.sh): a Spark standalone Master and one Worker per
      host, each in its own namespace behind a link shaped to RATE (tc syntax: 100mbit, 1gbit),
      the driver in another. For every rate, worker count and scheme it runs spindle train with
      the config (default: the MNIST MLP 784-800-800-10, global batch 256, 8 epochs) and prints
      the table: bytes per worker per step, step time, samples/s, time to the target accuracy,
      final test accuracy, the load. Writes netbench.txt, netbench.json and every run's directory.
      A run directory that already holds a summary.json is reported, not run again.

      Options:
        --network RATES   link rates, comma-separated (e.g. 100mbit,1gbit)
        --workers N,...   worker counts (default 2)
        --schemes S,...   none, bf16, powersgd[:RANK], topk[:FRACTION]
                          (default none,bf16,powersgd:2,topk:0.01)
        --epochs N        epochs per run (default training.epochs, 8)
        --max-steps N     stop each run after N global steps (short runs for step times)
        --target ACC      test accuracy for the time to target (default 0.98)
      """;

  static final String DATA_BENCH_USAGE =
      """
      Usage: spindle data-bench [--config FILE] [--set key=value ...] [--output DIR] [--epochs N]
                                [--cifar-records N] [--training-rate R] [--training-epochs N]
                                [--cnn LAYERS] [--cnn-batch N] [--cnn-steps N] [--cnn-rate R]

      Measures the data pipeline without training against what training consumes, for the
      configured data set (default MNIST) and for generated files in the CIFAR-10 binary layout:
      reading and decoding on the executors, then per epoch the global reshuffle into per-worker
      mini-batches and their delivery as ND4J arrays through the worker's prefetch queue (the
      training path without the forward pass). Training: Spindle's training job with this config,
      and a CIFAR-sized CNN through Spindle's training step with 1 and 2 threads. Prints delivery
      / training with PASS or FAIL against 5x and writes data-bench.json.

      Options:
        --config, --set     as for train (data.*, cluster.*, training.batchSize apply)
        --output DIR        output directory (default: runs/data-bench-<timestamp>)
        --epochs N          pipeline epochs to time, >= 2 (default 4; the first is reported apart)
        --cifar-records N   records per generated CIFAR file, 5 training files + 1 test
                            (default 10000, the official size)
        --training-rate R   cite this training rate (samples/s) for the configured data set
                            instead of measuring it by training
        --training-epochs N epochs of the measured training run (default 2)
        --cnn LAYERS        the CIFAR CNN (default %s)
        --cnn-batch N       its batch size (default 128)
        --cnn-steps N       its timed training steps per thread count (default 8)
        --cnn-rate R        cite this CNN training rate (samples/s) instead of measuring it
        --help              show this help
      """
          .formatted(CnnSpec.DEFAULT);

  private BenchCli() {}

  public static void main(String[] args) {
    io.spindle.runtime.Nd4jRuntime.selectNativeBuild(); // before anything loads ND4J
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs {@code spindle bench} or {@code spindle data-bench}: {@code args} begins with the command;
   * returns the exit code.
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    String command = args.length == 0 ? "" : args[0];
    String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
    try {
      return switch (command) {
        case "bench" -> bench(rest, out);
        case "data-bench" -> dataBench(rest, out);
        default ->
            throw new ConfigException(
                "unknown command '" + command + "' for BenchCli; expected bench or data-bench");
      };
    } catch (Throwable t) {
      ExitCode code = SpindleCli.classify(t);
      err.println(
          "spindle "
              + command
              + ": "
              + code.name().toLowerCase(Locale.ROOT).replace('_', ' ')
              + ": "
              + t);
      if (code == ExitCode.INTERNAL_ERROR || code == ExitCode.CLUSTER_FAILURE) {
        t.printStackTrace(err);
      }
      return code.code();
    }
  }

  private static int bench(String[] args, PrintStream out) throws IOException {
    CommandOptions options =
        CommandOptions.parse(
            "bench",
            args,
            List.of(
                "--epochs",
                "--workers",
                "--systems",
                "--target",
                "--peak-size",
                "--model",
                "--profile-steps",
                "--network",
                "--schemes",
                "--max-steps"),
            List.of("--profile", "--profile-collective", "--profile-dense"));
    if (options.extra("--network") != null) {
      return networkBench(options, out);
    }
    if (options.help()) {
      out.print(USAGE);
      return ExitCode.SUCCESS.code();
    }
    List<String> sets = new ArrayList<>();
    sets.add("training.epochs=" + options.positiveInt("--epochs", DEFAULT_EPOCHS));
    if (options.extra("--workers") != null) {
      sets.add("cluster.workers=" + options.positiveInt("--workers", 0));
    }
    String model =
        options.extra("--model") == null ? null : BenchModels.check(options.extra("--model"));
    List<String> overrides = new ArrayList<>(options.overrides());
    overrides.addAll(sets);
    SpindleConfig config = BenchModels.config(model, options.configFile(), overrides);
    if (config.model().precision() == io.spindle.config.Precision.BF16) {
      io.spindle.runtime.Amx.enable(); // before the peak's products use oneDNN (docs/bf16.md)
    }
    List<String> systems =
        options.extra("--systems") != null
            ? List.of(options.extra("--systems").split(","))
            : BenchModels.CNN.equals(model) ? BenchCommand.CNN_SYSTEMS : BenchCommand.SYSTEMS;
    BenchCommand.Settings settings =
        new BenchCommand.Settings(
            systems,
            options.number("--target", DEFAULT_TARGET),
            options.positiveInt("--peak-size", DEFAULT_PEAK_SIZE));
    Path dir = options.outputDir("bench");
    if (options.flag("--profile-collective")) {
      io.spindle.bench.ProfileCommand.runCollective(
          config,
          options.positiveInt("--profile-steps", io.spindle.bench.ProfileCommand.DEFAULT_STEPS),
          out);
      return ExitCode.SUCCESS.code();
    }
    if (options.flag("--profile-dense")) {
      DenseStepProfile.run(
          config,
          options.positiveInt("--profile-steps", io.spindle.bench.ProfileCommand.DEFAULT_STEPS),
          out);
      return ExitCode.SUCCESS.code();
    }
    if (options.flag("--profile")) {
      io.spindle.bench.ProfileCommand.run(
          config,
          options.positiveInt("--profile-steps", io.spindle.bench.ProfileCommand.DEFAULT_STEPS),
          dir,
          out);
      out.println("spindle: profile in " + dir.toAbsolutePath());
      return ExitCode.SUCCESS.code();
    }
    BenchCommand.run(config, settings, dir, out);
    out.println("spindle: bench results in " + dir.toAbsolutePath());
    return ExitCode.SUCCESS.code();
  }

  /** {@code spindle bench --network RATES}: {@link NetBench}. */
  private static int networkBench(CommandOptions options, PrintStream out) throws IOException {
    if (options.help()) {
      out.print(NETWORK_USAGE);
      return ExitCode.SUCCESS.code();
    }
    for (String unused : List.of("--systems", "--peak-size")) {
      if (options.extra(unused) != null) {
        throw new ConfigException(unused + " belongs to the single-machine bench, not --network");
      }
    }
    List<String> sets = new ArrayList<>();
    if (options.extra("--epochs") != null) {
      sets.add("training.epochs=" + options.positiveInt("--epochs", 0));
    }
    if (options.extra("--max-steps") != null) {
      sets.add("training.maxSteps=" + options.positiveInt("--max-steps", 0));
    }
    SpindleConfig config = options.config(sets);
    Path dir = options.outputDir("netbench");
    Files.createDirectories(dir);
    Path configFile = dir.resolve("config.yaml").toAbsolutePath();
    Files.writeString(configFile, ConfigLoader.toYaml(config));
    List<Integer> workers = new ArrayList<>();
    for (String w : list(options.extra("--workers"), "2")) {
      workers.add(CommandOptions.positiveInt(w, "--workers"));
    }
    List<CompressionSpec> schemes = new ArrayList<>();
    for (String s : list(options.extra("--schemes"), "none,bf16,powersgd:2,topk:0.01")) {
      schemes.add(CompressionSpec.parse(s));
    }
    NetBench.Settings settings =
        new NetBench.Settings(
            list(options.extra("--network"), ""),
            workers,
            schemes,
            options.number("--target", 0.98),
            configFile,
            List.of(),
            Path.of(System.getProperty("spindle.home", ".")).toAbsolutePath());
    NetBench.run(settings, dir.toAbsolutePath(), out);
    out.println("spindle: network bench results in " + dir.toAbsolutePath());
    return ExitCode.SUCCESS.code();
  }

  private static List<String> list(String value, String fallback) {
    String v = value == null ? fallback : value;
    List<String> out = new ArrayList<>();
    for (String s : v.split(",")) {
      if (!s.isBlank()) {
        out.add(s.trim());
      }
    }
    if (out.isEmpty()) {
      throw new ConfigException("expected a comma-separated list, got '" + v + "'");
    }
    return out;
  }

  private static int dataBench(String[] args, PrintStream out) {
    CommandOptions options =
        CommandOptions.parse(
            "data-bench",
            args,
            List.of(
                "--epochs",
                "--cifar-records",
                "--training-rate",
                "--training-epochs",
                "--cnn",
                "--cnn-batch",
                "--cnn-steps",
                "--cnn-rate"));
    if (options.help()) {
      out.print(DATA_BENCH_USAGE);
      return ExitCode.SUCCESS.code();
    }
    String cnn = options.extra("--cnn");
    DataBenchCommand.Options bench =
        new DataBenchCommand.Options(
            options.positiveInt("--epochs", 4),
            options.positiveInt("--cifar-records", 10000),
            options.rate("--training-rate"),
            options.positiveInt("--training-epochs", 2),
            CnnSpec.parse(
                cnn == null ? CnnSpec.DEFAULT : cnn, options.positiveInt("--cnn-batch", 128)),
            options.positiveInt("--cnn-steps", 8),
            options.rate("--cnn-rate"));
    SpindleConfig config = options.config();
    Path outputDir = options.outputDir("data-bench");
    DataBenchCommand.run(config, bench, outputDir, out);
    out.println("spindle: data-bench results in " + outputDir.toAbsolutePath());
    return ExitCode.SUCCESS.code();
  }
}
