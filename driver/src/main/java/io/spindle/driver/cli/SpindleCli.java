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
        bench    time DL4J fit() and Spindle's sync strategies on the same model and data
        help     show this help

      Run 'spindle <command> --help' for the options of a command.
      Exit codes: 0 success, 1 internal error, 2 bad config or usage, 3 bad data,
                  4 training diverged, 5 Spark/cluster failure.
      """;

  static final String TRAIN_USAGE =
      """
      Usage: spindle train [--config FILE] [--set key=value ...] [--output DIR] [--overwrite]

      Trains the model the config describes, data-parallel on Spark, and writes config.yaml,
      metrics.jsonl, model.zip and summary.json (written last) into the output directory.

      Options:
        --config FILE     YAML config; keys it omits keep their defaults
        --set key=value   override one key, e.g. --set optimizer.learningRate=0.01,
                          --set model.layers[0].units=500 (repeatable; wins over --config)
        --output DIR      output directory (default: runs/train-<timestamp>); an existing
                          non-empty one is refused (exit 2) unless --overwrite is given
        --overwrite       replace the run in an existing output directory (its summary.json
                          is deleted first, so it reappears only when the new run succeeds)
        --help            show this help

      Data comes from the official download sites, or from a mirror given by data.mirror or the
      environment variable SPINDLE_DATA_MIRROR, cached in data.cacheDir (~/.cache/spindle).
      """;

  static final String BENCH_USAGE =
      """
      Usage: spindle bench [--config FILE] [--set key=value ...] [--output DIR] [--epochs N]
                           [--systems a,b,...]

      Trains the configured model (default: the MLP 784-800-800-10 on MNIST, global batch 256)
      with each system in turn, in one process on this machine, and writes bench.json and
      bench.txt (a table) into the output directory.

      Options:
        --config, --set   as for train
        --output DIR      output directory (default: runs/bench-<timestamp>)
        --epochs N        epochs per system (default 1)
        --systems LIST    comma-separated, from: dl4j-fit-1t, dl4j-fit-2t,
                          spindle-gradient-sharing, spindle-parameter-averaging,
                          spindle-collective, spindle-collective-1w (default: all)
        --help            show this help
      """;

  private SpindleCli() {}

  public static void main(String[] args) {
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
        case "bench" -> bench(rest, out);
        default -> {
          err.println(
              "spindle: unknown command '" + command + "'; expected one of [train, bench, help]");
          err.print(USAGE);
          yield ExitCode.BAD_CONFIG.code();
        }
      };
    } catch (Throwable t) {
      ExitCode code = classify(t);
      err.println("spindle: " + code.name().toLowerCase().replace('_', ' ') + ": " + message(t));
      if (code == ExitCode.INTERNAL_ERROR) {
        t.printStackTrace(err);
      }
      return code.code();
    }
  }

  private static int train(String[] args, PrintStream out) {
    CommandOptions options =
        CommandOptions.parse("train", args, List.of(), List.of(OutputDirectory.OVERWRITE));
    if (options.help()) {
      out.print(TRAIN_USAGE);
      return ExitCode.SUCCESS.code();
    }
    SpindleConfig config = options.config();
    Path outputDir = options.outputDir("train");
    ResourcePlan.of(config, SparkContexts.conf(config.cluster(), "spindle train")).check();
    OutputDirectory.claim(outputDir, options.flag(OutputDirectory.OVERWRITE));
    Map<String, Path> files = TrainJob.fetchData(config);
    RunOutput output = new RunOutput(outputDir);
    out.println("spindle: writing to " + outputDir.toAbsolutePath());
    try (JavaSparkContext sc = SparkContexts.create(config.cluster(), "spindle train")) {
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

  private static int bench(String[] args, PrintStream out) {
    CommandOptions options = CommandOptions.parse("bench", args, List.of("--epochs", "--systems"));
    if (options.help()) {
      out.print(BENCH_USAGE);
      return ExitCode.SUCCESS.code();
    }
    int epochs =
        options.extra("--epochs") == null ? 1 : positiveInt(options.extra("--epochs"), "--epochs");
    List<String> systems =
        options.extra("--systems") == null
            ? io.spindle.driver.bench.BenchCommand.SYSTEMS
            : List.of(options.extra("--systems").split(","));
    Path outputDir = options.outputDir("bench");
    io.spindle.driver.bench.BenchCommand.run(options.config(), systems, epochs, outputDir, out);
    out.println("spindle: bench results in " + outputDir.toAbsolutePath());
    return ExitCode.SUCCESS.code();
  }

  private static int positiveInt(String text, String option) {
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
  static ExitCode classify(Throwable t) {
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
          || c instanceof io.spindle.driver.ClusterUnreachableException) {
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
          || c instanceof io.spindle.driver.ClusterUnreachableException) {
        return c.getMessage();
      }
      root = c;
    }
    return t.getMessage() != null ? t.getMessage() : root.toString();
  }
}
