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
    CommandOptions options =
        CommandOptions.parse("train", args, List.of(), List.of(RESUME, OutputDirectory.OVERWRITE));
    if (options.help()) {
      out.print(TRAIN_USAGE);
      return ExitCode.SUCCESS.code();
    }
    boolean resume = options.flag(RESUME);
    if (resume && !options.hasOutput()) {
      throw new ConfigException(
          "--resume needs --output DIR: the directory of the run to continue");
    }
    SpindleConfig config = options.config(resume ? List.of("checkpoint.resume=auto") : List.of());
    String location = options.outputLocation("train");
    if (config.model().precision() == io.spindle.config.Precision.BF16) {
      io.spindle.runtime.Amx.enable(); // before oneDNN's first use in this JVM (docs/bf16.md)
    }
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
    Map<String, Path> files = DatasetFiles.fetch(config);
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
