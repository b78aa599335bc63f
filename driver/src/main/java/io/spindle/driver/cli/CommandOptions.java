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
 * The one command-line parser of every Spindle command ({@code train}, {@code predict}, {@code
 * evaluate}, {@code bench}, {@code data-bench}, the scaling model): the shared options ({@code
 * --config}, {@code --set}, {@code --output}, {@code --help}; a command may take a subset) plus the
 * command's own valued options, each as {@code --name value} or {@code --name=value}, and its
 * flags. Values are checked where they are read, with messages that name the option and the value.
 *
 * <p>{@code --output} is kept as given: commands that write through Hadoop's file systems ({@code
 * train}, {@code predict}) read it with {@link #outputLocation}, a local path or a URI such as
 * {@code hdfs://nn/runs/1} or {@code s3a://bucket/runs/1}; commands that write local files only
 * read it with {@link #outputDir}, which refuses a URI.
 */
public final class CommandOptions {
  /** The options every command may share. */
  public static final List<String> SHARED = List.of("--config", "--set", "--output");

  private final String command;
  private Path configFile;
  private String output;
  private boolean help;
  private final List<String> overrides = new ArrayList<>();
  private final Map<String, List<String>> extra = new LinkedHashMap<>();
  private final java.util.Set<String> flags = new java.util.HashSet<>();

  private CommandOptions(String command) {
    this.command = command;
  }

  public static CommandOptions parse(String command, String[] args, List<String> extraOptions) {
    return parse(command, args, extraOptions, List.of());
  }

  /**
   * @param flagOptions the command's own options without a value (e.g. {@code --overwrite})
   */
  public static CommandOptions parse(
      String command, String[] args, List<String> extraOptions, List<String> flagOptions) {
    return parse(command, args, SHARED, extraOptions, flagOptions);
  }

  /**
   * As {@link #parse(String, String[], List, List)} for a command that takes only the shared
   * options {@code shared} (a subset of {@link #SHARED}); the others are refused as unknown.
   */
  public static CommandOptions parse(
      String command,
      String[] args,
      List<String> shared,
      List<String> extraOptions,
      List<String> flagOptions) {
    if (!SHARED.containsAll(shared)) {
      throw new IllegalArgumentException("shared options must be among " + SHARED + ": " + shared);
    }
    CommandOptions o = new CommandOptions(command);
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
      boolean known = shared.contains(name) || extraOptions.contains(name);
      if (!known) {
        List<String> expected = new ArrayList<>(shared);
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
        case "--output" -> o.output = value;
        default -> o.extra.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
      }
    }
    return o;
  }

  public boolean help() {
    return help;
  }

  /** The config file plus overrides, validated. */
  public SpindleConfig config() {
    return ConfigLoader.load(configFile, overrides);
  }

  /** The config file plus overrides plus {@code more} overrides after them, validated. */
  public SpindleConfig config(List<String> more) {
    List<String> all = new ArrayList<>(overrides);
    all.addAll(more);
    return ConfigLoader.load(configFile, all);
  }

  /** The {@code --set} overrides, in order. */
  public List<String> overrides() {
    return List.copyOf(overrides);
  }

  /** Whether {@code --output} was given. */
  public boolean hasOutput() {
    return output != null;
  }

  /**
   * The output directory as given, a local path or a Hadoop file system URI ({@code hdfs://...},
   * {@code s3a://...}), or {@code runs/<prefix>-<timestamp>}.
   */
  public String outputLocation(String prefix) {
    return output != null ? output : defaultDir(prefix).toString();
  }

  /**
   * {@code --output} as given (a local path or a Hadoop file system URI); a usage error if absent.
   */
  public String requiredOutput() {
    if (output == null || output.isBlank()) {
      throw new ConfigException(command + " needs --output");
    }
    return output;
  }

  /**
   * The output directory of a command that writes local files, or {@code
   * runs/<prefix>-<timestamp>}; a Hadoop URI is refused.
   */
  public Path outputDir(String prefix) {
    return output != null ? localOutput() : defaultDir(prefix);
  }

  /** As {@link #outputDir(String)}, {@code fallback} when {@code --output} is absent. */
  public Path outputDir(Path fallback) {
    return output != null ? localOutput() : fallback;
  }

  private static Path defaultDir(String prefix) {
    return Path.of(
        "runs",
        prefix + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
  }

  /** {@code --output} as a local path ({@code file:} URIs accepted); a config error for a URI. */
  private Path localOutput() {
    if (io.spindle.driver.RunOutput.isRemote(output)) {
      throw new ConfigException(
          "--output "
              + output
              + ": "
              + command
              + " writes to a local directory only; expected a local path");
    }
    return io.spindle.driver.RunOutput.localPath(output);
  }

  /** The {@code --config} file, or null. */
  public Path configFile() {
    return configFile;
  }

  /** Whether a command-specific flag was given. */
  public boolean flag(String name) {
    return flags.contains(name);
  }

  /** A command-specific option's value (the last one given), or null. */
  public String extra(String name) {
    List<String> values = extra.get(name);
    return values == null ? null : values.get(values.size() - 1);
  }

  /** A command-specific option's value (the last one given); a usage error when absent. */
  public String required(String name) {
    String v = extra(name);
    if (v == null || v.isBlank()) {
      throw new ConfigException(command + " needs " + name);
    }
    return v;
  }

  /** Every value given for a command-specific option, in order (empty when absent). */
  public List<String> extras(String name) {
    return extra.getOrDefault(name, List.of());
  }

  /** A command-specific option as a positive integer, or {@code defaultValue} when absent. */
  public int positiveInt(String name, int defaultValue) {
    String v = extra(name);
    return v == null ? defaultValue : positiveInt(v, name);
  }

  /** A command-specific option as a number, or {@code defaultValue} when absent. */
  public double number(String name, double defaultValue) {
    String v = extra(name);
    if (v == null) {
      return defaultValue;
    }
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new ConfigException(name + " must be a number, got '" + v + "'");
    }
  }

  /** A cited samples/s figure: a positive number, or 0 when the option is absent. */
  public double rate(String name) {
    String v = extra(name);
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
}
