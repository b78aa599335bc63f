package io.spindle.driver.cli;

import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The options every command shares ({@code --config}, {@code --set}, {@code --output}, {@code
 * --help}) plus the command's own valued options, each as {@code --name value} or {@code
 * --name=value}.
 */
final class CommandOptions {
  private Path configFile;
  private String outputDir;
  private boolean help;
  private final List<String> overrides = new ArrayList<>();
  private final Map<String, String> extra = new LinkedHashMap<>();
  private final java.util.Set<String> flags = new java.util.HashSet<>();

  private CommandOptions() {}

  static CommandOptions parse(String command, String[] args, List<String> extraOptions) {
    return parse(command, args, extraOptions, List.of());
  }

  /**
   * @param flagOptions the command's own options without a value (e.g. {@code --overwrite})
   */
  static CommandOptions parse(
      String command, String[] args, List<String> extraOptions, List<String> flagOptions) {
    CommandOptions o = new CommandOptions();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        o.help = true;
        continue;
      }
      if (flagOptions.contains(a)) {
        o.flags.add(a);
        continue;
      }
      int eq = a.indexOf('=');
      String name = eq > 0 && a.startsWith("--") ? a.substring(0, eq) : a;
      boolean known =
          List.of("--config", "--set", "--output").contains(name) || extraOptions.contains(name);
      if (!known) {
        List<String> expected = new ArrayList<>(List.of("--config", "--set", "--output"));
        expected.addAll(extraOptions);
        expected.addAll(flagOptions);
        expected.add("--help");
        throw new ConfigException(
            "unknown option '" + a + "' for " + command + "; expected one of " + expected);
      }
      String value;
      if (eq > 0 && a.startsWith("--")) {
        value = a.substring(eq + 1);
      } else if (i + 1 < args.length) {
        value = args[++i];
      } else {
        throw new ConfigException(name + " needs a value");
      }
      switch (name) {
        case "--config" -> o.configFile = Path.of(value);
        case "--set" -> o.overrides.add(value);
        case "--output" -> o.outputDir = value;
        default -> o.extra.put(name, value);
      }
    }
    return o;
  }

  boolean help() {
    return help;
  }

  /** The config file plus overrides, validated. */
  SpindleConfig config() {
    return ConfigLoader.load(configFile, overrides);
  }

  /** The output directory, or {@code runs/<prefix>-<timestamp>}. */
  Path outputDir(String prefix) {
    return Path.of(outputLocation(prefix));
  }

  /**
   * The output directory as given (a local path or a Hadoop file system URI such as {@code
   * hdfs://nn/runs/1} or {@code s3a://bucket/runs/1}), or {@code runs/<prefix>-<timestamp>}.
   */
  String outputLocation(String prefix) {
    return outputDir != null
        ? outputDir
        : Path.of(
                "runs",
                prefix
                    + "-"
                    + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")))
            .toString();
  }

  /** Whether a command-specific flag was given. */
  boolean flag(String name) {
    return flags.contains(name);
  }

  /** A command-specific option's value, or null. */
  String extra(String name) {
    return extra.get(name);
  }
}
