package io.spindle.driver.cli;

import io.spindle.config.ConfigException;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DataFormatException;
import io.spindle.driver.ResourcePlan;
import io.spindle.driver.RunOutput;
import io.spindle.driver.SparkContexts;
import io.spindle.driver.TrainJob;
import io.spindle.driver.TrainingDivergedException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;

/** The {@code spindle} command line. */
public final class SpindleCli {
  static final String USAGE =
      """
      Usage: spindle <command> [options]

      Commands:
        train    train a model on Spark (default: an MLP on MNIST in local mode)
        bench    time Spindle against DL4J fit() and DL4J Spark (./spindle bench --help)
        data-bench  time the data pipeline alone (read, decode, shuffle, batch), no training
        inspect  verify a checkpoint and print what it holds
        help     show this help

      Run 'spindle <command> --help' for the options of a command.
      Exit codes: 0 success, 1 internal error, 2 bad config or usage, 3 bad data,
                  4 training diverged, 5 Spark/cluster failure.
      """;

  static final String TRAIN_USAGE =
      """
      Usage: spindle train [--config FILE] [--set key=value ...] [--output DIR]
                           [--resume | --overwrite]

      Trains the model the config describes, data-parallel on Spark, and writes config.yaml,
      metrics.jsonl, model.zip and summary.json (written last) into the output directory.

      Options:
        --config FILE     YAML config; keys it omits keep their defaults
        --set key=value   override one key, e.g. --set optimizer.learningRate=0.01,
                          --set model.layers[0].units=500 (repeatable; wins over --config)
        --output DIR      output directory (default: runs/train-<timestamp>); an existing
                          non-empty one is refused (exit 2) unless --resume or --overwrite
        --resume          continue from the newest valid checkpoint of the run in --output
                          (same as --set checkpoint.resume=auto); damaged ones are skipped
        --overwrite       replace the run in an existing output directory (its summary.json
                          and checkpoints are deleted first, so summary.json reappears only
                          when the new run succeeds)
        --help            show this help

      Data comes from the official download sites, or from a mirror given by data.mirror or the
      environment variable SPINDLE_DATA_MIRROR, cached in data.cacheDir (~/.cache/spindle).
      """;

  private SpindleCli() {}

  public static void main(String[] args) {
    io.spindle.runtime.Nd4jRuntime.selectNativeBuild(); // before anything loads ND4J
    int code = run(args, System.out, System.err);
    if (inYarnClusterMode()) {
      // The driver is a thread of Spark's ApplicationMaster here, which reports the application's
      // final status to YARN (and so to spark-submit) from how main ends: returning is success, an
      // exception is failure. System.exit would end the AM before it reports: YARN would record a
      // failure even after a successful run, and start a second attempt.
      if (code != ExitCode.SUCCESS.code()) {
        throw new ExitStatusException(code);
      }
      return;
    }
    System.exit(code);
  }

  /** Whether this JVM is the driver of a YARN application in cluster mode. */
  static boolean inYarnClusterMode() {
    return "cluster".equals(System.getProperty("spark.submit.deployMode"))
        && System.getProperty("spark.master", "").startsWith("yarn");
  }

  /**
   * A run that failed with an exit code, where the driver cannot exit with it (YARN cluster mode):
   * YARN's diagnostics, which spark-submit prints, carry the code and its meaning.
   */
  static final class ExitStatusException extends RuntimeException {
    ExitStatusException(int code) {
      super(
          "spindle exit code "
              + code
              + " ("
              + java.util.Arrays.stream(ExitCode.values())
                  .filter(c -> c.code() == code)
                  .map(c -> c.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '))
                  .findFirst()
                  .orElse("unknown")
              + "); the driver's log (yarn logs -applicationId ...) has the message");
    }
  }

  /** Runs the command line; returns the exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0 || isHelp(args[0]) || args[0].equals("help")) {
      out.print(USAGE);
      return args.length == 0 ? ExitCode.BAD_CONFIG.code() : ExitCode.SUCCESS.code();
    }
    String command = args[0];
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    try {
      return switch (command) {
        case "train" -> train(rest, out, err);
        case "bench" -> bench(err);
        case "data-bench" -> dataBench(rest, out);
        case "inspect" -> InspectCommand.run(rest, out);
        default -> {
          err.println(
              "spindle: unknown command '"
                  + command
                  + "'; expected one of [train, bench, data-bench, inspect, help]");
          err.print(USAGE);
          yield ExitCode.BAD_CONFIG.code();
        }
      };
    } catch (Throwable t) {
      return fail(t, err);
    } finally {
      RunLog.detach();
    }
  }

  /**
   * Reports a failure: one line on the console (the first line of the message) naming the run's log
   * file, and the whole failure with its stack trace in that file; before a run has a log file (bad
   * command line or config), the line alone, plus the stack trace for an internal error.
   */
  private static int fail(Throwable t, PrintStream err) {
    return fail(t, err, RunLog.currentFile().map(Path::toString).orElse(null));
  }

  /** As {@link #fail(Throwable, PrintStream)}, naming the log file as {@code logName}. */
  private static int fail(Throwable t, PrintStream err, String logName) {
    ExitCode code = classify(t);
    String line = "spindle: " + code.name().toLowerCase().replace('_', ' ') + ": " + message(t);
    java.util.Optional<Path> log = RunLog.currentFile();
    if (log.isPresent() && RunLog.logFailure(line, t)) {
      String first = line.lines().findFirst().orElse(line);
      err.println(first + " (details: " + (logName != null ? logName : log.get()) + ")");
    } else {
      err.println(line);
      if (code == ExitCode.INTERNAL_ERROR) {
        t.printStackTrace(err);
      }
    }
    return code.code();
  }

  private static int train(String[] args, PrintStream out, PrintStream err) {
    boolean resume = Arrays.asList(args).contains("--resume");
    if (resume) {
      List<String> rest = new java.util.ArrayList<>(Arrays.asList(args));
      rest.removeIf("--resume"::equals);
      if (!rest.contains("--output") && rest.stream().noneMatch(a -> a.startsWith("--output="))) {
        throw new ConfigException(
            "--resume needs --output DIR: the directory of the run to continue");
      }
      rest.addAll(List.of("--set", "checkpoint.resume=auto"));
      args = rest.toArray(new String[0]);
    }
    CommandOptions options =
        CommandOptions.parse("train", args, List.of(), List.of(OutputDirectory.OVERWRITE));
    if (options.help()) {
      out.print(TRAIN_USAGE);
      return ExitCode.SUCCESS.code();
    }
    SpindleConfig config = options.config();
    String location = options.outputLocation("train");
    org.apache.spark.SparkConf sparkConf = SparkContexts.conf(config.cluster(), "spindle train");
    ResourcePlan.of(config, sparkConf).check();
    io.spindle.driver.BarrierSlots.checkUpFront(sparkConf, config.cluster()); // before any work
    org.apache.hadoop.conf.Configuration hadoop = OutputDirectory.hadoopConf(sparkConf);
    if (config.checkpoint().resume() == io.spindle.config.ResumeMode.AUTO) {
      if (options.flag(OutputDirectory.OVERWRITE)) {
        throw new ConfigException("--resume and --overwrite exclude each other");
      }
    } else {
      OutputDirectory.claim(location, options.flag(OutputDirectory.OVERWRITE), hadoop);
    }
    Map<String, Path> files = TrainJob.fetchData(config);
    RunOutput output = RunOutput.open(location, hadoop);
    RunLog.attach(output.dir());
    try {
      out.println("spindle: writing to " + output.where(""));
      try (JavaSparkContext sc =
          SparkContexts.create(
              config.cluster(), "spindle train", config.data().format().equals("table"))) {
        sc.setLogLevel("WARN");
        Map<String, Object> summary = TrainJob.run(sc, config, files, output, out);
        out.printf(
            "spindle: done. test accuracy %.4f, %.0f samples/s, %.1f s; summary in %s%n",
            (Double) summary.get("test_accuracy"),
            (Double) summary.get("samples_per_second"),
            (Double) summary.get("wall_seconds"),
            output.where("summary.json"));
      }
      return ExitCode.SUCCESS.code();
    } catch (Throwable t) {
      // logged while the log is attached; named where it ends up (for a Hadoop URI, published)
      return fail(t, err, output.where(RunLog.FILE_NAME));
    } finally {
      RunLog.detach();
      output.close(); // for a Hadoop URI: publishes spindle.log, removes the staging folder
    }
  }

  /**
   * The benchmark lives in the spindle-bench module, whose classpath alone holds DL4J Spark's jars;
   * the {@code ./spindle} launcher runs {@code io.spindle.bench.BenchCli} for {@code spindle
   * bench}. This class only says so when called directly.
   */
  private static int bench(PrintStream err) {
    err.println(
        "spindle: bench runs from the spindle-bench module (io.spindle.bench.BenchCli), which"
            + " holds the DL4J Spark baselines; use ./spindle bench, or put bench/target/lib/*"
            + " and bench/target/classes on the classpath");
    return ExitCode.BAD_CONFIG.code();
  }

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
      and a CIFAR-sized CNN in DL4J fit() with 1 and 2 threads. Prints delivery / training with
      PASS or FAIL against 5x and writes data-bench.json.

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
        --cnn-steps N       its timed fit() steps per thread count (default 8)
        --cnn-rate R        cite this CNN training rate (samples/s) instead of measuring it
        --help              show this help
      """
          .formatted(io.spindle.driver.bench.CnnSpec.DEFAULT);

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
    var bench =
        new io.spindle.driver.bench.DataBenchCommand.Options(
            intOption(options, "--epochs", 4),
            intOption(options, "--cifar-records", 10000),
            rateOption(options, "--training-rate"),
            intOption(options, "--training-epochs", 2),
            io.spindle.driver.bench.CnnSpec.parse(
                options.extra("--cnn") == null
                    ? io.spindle.driver.bench.CnnSpec.DEFAULT
                    : options.extra("--cnn"),
                intOption(options, "--cnn-batch", 128)),
            intOption(options, "--cnn-steps", 8),
            rateOption(options, "--cnn-rate"));
    Path outputDir = options.outputDir("data-bench");
    io.spindle.driver.bench.DataBenchCommand.run(options.config(), bench, outputDir, out);
    out.println("spindle: data-bench results in " + outputDir.toAbsolutePath());
    return ExitCode.SUCCESS.code();
  }

  /** A cited samples/s figure: a positive number, or 0 when the option is absent. */
  private static double rateOption(CommandOptions options, String name) {
    String v = options.extra(name);
    if (v == null) {
      return 0;
    }
    double rate;
    try {
      rate = Double.parseDouble(v);
    } catch (NumberFormatException e) {
      rate = -1;
    }
    if (!(rate > 0) || Double.isInfinite(rate)) {
      throw new ConfigException(name + " must be a positive number of samples/s, got '" + v + "'");
    }
    return rate;
  }

  private static int intOption(CommandOptions options, String name, int defaultValue) {
    String v = options.extra(name);
    return v == null ? defaultValue : positiveInt(v, name);
  }

  /** {@code text} as a positive integer, else a config error naming {@code option}. */
  public static int positiveInt(String text, String option) {
    try {
      int v = Integer.parseInt(text);
      if (v > 0) {
        return v;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new ConfigException(option + " must be a positive integer, got '" + text + "'");
  }

  private static boolean isHelp(String a) {
    return a.equals("--help") || a.equals("-h");
  }

  /** Maps a failure to its exit code, looking through Spark's wrapping for the root cause. */
  public static ExitCode classify(Throwable t) {
    boolean spark = false;
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof ConfigException) {
        return ExitCode.BAD_CONFIG;
      }
      if (c instanceof DataFormatException) {
        return ExitCode.BAD_DATA;
      }
      if (c instanceof TrainingDivergedException) {
        return ExitCode.DIVERGED;
      }
      if (c instanceof org.apache.spark.SparkException
          || c instanceof io.spindle.driver.ClusterUnreachableException
          || c instanceof io.spindle.driver.ClusterCapacityException) {
        spark = true;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return spark ? ExitCode.CLUSTER_FAILURE : ExitCode.INTERNAL_ERROR;
  }

  private static String message(Throwable t) {
    Throwable root = t;
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof ConfigException
          || c instanceof DataFormatException
          || c instanceof TrainingDivergedException
          || c instanceof io.spindle.driver.ClusterUnreachableException
          || c instanceof io.spindle.driver.ClusterCapacityException) {
        return c.getMessage();
      }
      if (c.getMessage() != null && c.getMessage().contains("[SPARK-24819]")) {
        return "a collective round needs cluster.workers task slots at once, and the cluster did"
            + " not offer them within cluster.executorWaitSeconds (an executor was lost and not"
            + " replaced?); Spark: "
            + c.getMessage();
      }
      root = c;
    }
    return t.getMessage() != null ? t.getMessage() : root.toString();
  }
}
