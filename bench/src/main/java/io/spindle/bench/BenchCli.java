package io.spindle.bench;

import io.spindle.config.ConfigException;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.cli.ExitCode;
import io.spindle.driver.cli.SpindleCli;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code spindle bench} (the launcher runs this class with the bench module's classpath, which
 * alone holds DL4J Spark's jars).
 */
public final class BenchCli {
  static final int DEFAULT_EPOCHS = 2;
  static final double DEFAULT_TARGET = 0.97;
  static final int DEFAULT_PEAK_SIZE = 2048;

  static final String USAGE =
      """
      Usage: spindle bench [--config FILE] [--set key=value ...] [--output DIR] [--epochs N]
                           [--workers N] [--systems a,b,...] [--target ACC] [--peak-size N]
                           [--model mlp|cnn] [--profile [--profile-steps N]]

      Trains the configured model (default: the MLP 784-800-800-10 with dropout on MNIST,
      Adam 0.001, global batch 256) with each system in turn, in one process on this machine,
      after measuring ND4J's fp32 matmul peak (1 and 2 threads) and the one-thread compute time
      of a step. Writes bench.json (one object per system), bench.txt (a table with ratios
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
        --help            show this help

      The PyTorch systems run through the first of $SPINDLE_PYTHON, /usr/bin/python3 and python3
      that imports torch (Debian: apt-get install python3-torch libopenblas0-pthread), and are
      reported as skipped, with the reason, when none does.
      Data comes from data.mirror, else $SPINDLE_DATA_MIRROR, else the official sites.
      """;

  private BenchCli() {}

  public static void main(String[] args) {
    io.spindle.runtime.Nd4jRuntime.selectNativeBuild(); // before anything loads ND4J
    System.exit(run(args, System.out, System.err));
  }

  /** Runs {@code spindle bench} with {@code args} (without the word bench); the exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    try {
      Path configFile = null;
      Path output = null;
      List<String> sets = new ArrayList<>();
      int epochs = DEFAULT_EPOCHS;
      Integer workers = null;
      List<String> systems = BenchCommand.SYSTEMS;
      double target = DEFAULT_TARGET;
      int peakSize = DEFAULT_PEAK_SIZE;
      String model = null;
      boolean profile = false;
      int profileSteps = io.spindle.bench.profile.ProfileCommand.DEFAULT_STEPS;
      boolean systemsGiven = false;
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (a.equals("--help") || a.equals("-h")) {
          out.print(USAGE);
          return ExitCode.SUCCESS.code();
        }
        if (a.equals("--profile")) {
          profile = true;
          continue;
        }
        int eq = a.indexOf('=');
        String name = a.startsWith("--") && eq > 0 ? a.substring(0, eq) : a;
        String value;
        if (a.startsWith("--") && eq > 0) {
          value = a.substring(eq + 1);
        } else if (i + 1 < args.length) {
          value = args[++i];
        } else {
          throw new ConfigException(name + " needs a value");
        }
        switch (name) {
          case "--config" -> configFile = Path.of(value);
          case "--set" -> sets.add(value);
          case "--output" -> output = Path.of(value);
          case "--epochs" -> epochs = SpindleCli.positiveInt(value, name);
          case "--workers" -> workers = SpindleCli.positiveInt(value, name);
          case "--systems" -> {
            systems = List.of(value.split(","));
            systemsGiven = true;
          }
          case "--target" -> target = number(value, name);
          case "--peak-size" -> peakSize = SpindleCli.positiveInt(value, name);
          case "--model" -> model = BenchModels.check(value);
          case "--profile-steps" -> profileSteps = SpindleCli.positiveInt(value, name);
          default ->
              throw new ConfigException(
                  "unknown option '"
                      + a
                      + "' for bench; expected one of [--config, --set, --output, --epochs,"
                      + " --workers, --systems, --target, --peak-size, --model, --profile,"
                      + " --profile-steps, --help]");
        }
      }
      sets.add("training.epochs=" + epochs);
      if (workers != null) {
        sets.add("cluster.workers=" + workers);
      }
      SpindleConfig config = BenchModels.config(model, configFile, sets);
      if (BenchModels.CNN.equals(model) && !systemsGiven) {
        systems = BenchCommand.CNN_SYSTEMS;
      }
      BenchCommand.Settings settings = new BenchCommand.Settings(systems, target, peakSize);
      Path dir =
          output != null
              ? output
              : Path.of(
                  "runs",
                  "bench-"
                      + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
      if (profile) {
        io.spindle.bench.profile.ProfileCommand.run(config, profileSteps, dir, out);
        out.println("spindle: profile in " + dir.toAbsolutePath());
        return ExitCode.SUCCESS.code();
      }
      BenchCommand.run(config, settings, dir, out);
      out.println("spindle: bench results in " + dir.toAbsolutePath());
      return ExitCode.SUCCESS.code();
    } catch (Throwable t) {
      ExitCode code = SpindleCli.classify(t);
      err.println("spindle bench: " + code.name().toLowerCase().replace('_', ' ') + ": " + t);
      if (code == ExitCode.INTERNAL_ERROR || code == ExitCode.CLUSTER_FAILURE) {
        t.printStackTrace(err);
      }
      return code.code();
    }
  }

  private static double number(String text, String option) {
    try {
      return Double.parseDouble(text);
    } catch (NumberFormatException e) {
      throw new ConfigException(option + " must be a number, got '" + text + "'");
    }
  }
}
