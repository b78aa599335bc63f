package io.spindle.driver.cli;

import io.spindle.config.ConfigException;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DataFormatException;
import io.spindle.driver.RunOutput;
import io.spindle.driver.TrainingDivergedException;
import io.spindle.driver.cluster.ResourcePlan;
import io.spindle.driver.cluster.SparkContexts;
import io.spindle.driver.data.DatasetFiles;
import io.spindle.driver.job.TrainJob;
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
        predict  score a data set with a trained model; one row per example, written atomically
        evaluate measure a trained model (accuracy, per-class F1, confusion matrix) into
                 evaluation.json and report.html
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

  /** {@code train --resume}: the same as {@code --set checkpoint.resume=auto}. */
  static final String RESUME = "--resume";

  private SpindleCli() {}

  public static void main(String[] args) {
    io.spindle.runtime.Nd4jRuntime.selectNativeBuild(); // before anything loads ND4J
    int code = run(args, System.out, System.err);
    System.exit(code);
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
        case "train" -> train(rest, out);
        case "bench", "data-bench" -> bench(command, err);
        case "inspect" -> InspectCommand.run(rest, out);
        case "predict" -> PredictCommand.run(rest, out);
        case "evaluate" -> EvaluateCommand.run(rest, out);
        default -> {
          err.println(
              "spindle: unknown command '"
                  + command
                  + "'; expected one of [train, bench, data-bench, inspect, predict, evaluate, help]");
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
    ExitCode code = classify(t);
    String line = "spindle: " + code.name().toLowerCase().replace('_', ' ') + ": " + message(t);
    java.util.Optional<Path> log = RunLog.currentFile();
    if (log.isPresent() && RunLog.logFailure(line, t)) {
      String first = line.lines().findFirst().orElse(line);
      err.println(first + " (details: " + log.get() + ")");
    } else {
      err.println(line);
      if (code == ExitCode.INTERNAL_ERROR) {
        t.printStackTrace(err);
      }
    }
    return code.code();
  }

  private static int train(String[] args, PrintStream out) {
    CommandOptions options =
        CommandOptions.parse("train", args, List.of(), List.of(RESUME, OutputDirectory.OVERWRITE));
    if (options.help()) {
      out.print(TRAIN_USAGE);
      return ExitCode.SUCCESS.code();
    }
    boolean resume = options.flag(RESUME);
    if (resume && options.outputDir((Path) null) == null) {
      throw new ConfigException(
          "--resume needs --output DIR: the directory of the run to continue");
    }
    SpindleConfig config = options.config(resume ? List.of("checkpoint.resume=auto") : List.of());
    Path outputDir = options.outputDir("train");
    org.apache.spark.SparkConf sparkConf = SparkContexts.conf(config.cluster(), "spindle train");
    ResourcePlan.of(config, sparkConf).check();
    io.spindle.driver.BarrierSlots.checkUpFront(sparkConf, config.cluster()); // before any work
    if (config.checkpoint().resume() == io.spindle.config.ResumeMode.AUTO) {
      if (options.flag(OutputDirectory.OVERWRITE)) {
        throw new ConfigException("--resume and --overwrite exclude each other");
      }
    } else {
      OutputDirectory.claim(outputDir, options.flag(OutputDirectory.OVERWRITE));
    }
    Map<String, Path> files = DatasetFiles.fetch(config);
    RunOutput output = new RunOutput(outputDir);
    RunLog.attach(output.dir()); // detached in run(), after a failure is logged
    out.println("spindle: writing to " + outputDir.toAbsolutePath());
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
          output.dir().resolve("summary.json"));
    }
    return ExitCode.SUCCESS.code();
  }

  /**
   * The benchmarks live in the spindle-bench module, whose classpath alone holds DL4J Spark's jars;
   * the {@code ./spindle} launcher runs {@code io.spindle.bench.BenchCli} for {@code spindle bench}
   * and {@code spindle data-bench}. This class only says so when called directly.
   */
  private static int bench(String command, PrintStream err) {
    err.println(
        "spindle: "
            + command
            + " runs from the spindle-bench module (io.spindle.bench.BenchCli); use ./spindle "
            + command
            + ", or put bench/target/lib/* and bench/target/classes on the classpath");
    return ExitCode.BAD_CONFIG.code();
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
