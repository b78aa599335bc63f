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
 * The one command-line parser of every Spindle command ({@code train}, {@code inspect}, {@code
 * bench}, {@code data-bench}): the options every command shares ({@code --config}, {@code --set},
 * {@code --output}, {@code --help}) plus the command's own valued options, each as {@code --name
 * value} or {@code --name=value}, and its flags. Values are checked where they are read, with
 * messages that name the option and the value.
 */
public final class CommandOptions {
  private Path configFile;
  private Path outputDir;
  private boolean help;
  private final List<String> overrides = new ArrayList<>();
  private final Map<String, List<String>> extra = new LinkedHashMap<>();
  private final java.util.Set<String> flags = new java.util.HashSet<>();

  private CommandOptions() {}

  public static CommandOptions parse(String command, String[] args, List<String> extraOptions) {
    return parse(command, args, extraOptions, List.of());
  }

  /**
   * @param flagOptions the command's own options without a value (e.g. {@code --overwrite})
   */
  public static CommandOptions parse(
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
        case "--output" -> o.outputDir = Path.of(value);
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

  /** The output directory, or {@code runs/<prefix>-<timestamp>}. */
  public Path outputDir(String prefix) {
    return outputDir != null
        ? outputDir
        : Path.of(
            "runs",
            prefix
                + "-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
  }

  /** The {@code --config} file, or null. */
  public Path configFile() {
    return configFile;
  }

  /** The {@code --set} overrides, in order. */
  public List<String> overrides() {
    return List.copyOf(overrides);
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

  /** Every value given for a command-specific option, in order (empty when absent). */
  public List<String> extras(String name) {
    return extra.getOrDefault(name, List.of());
  }

  /** The output directory, or {@code fallback} when {@code --output} is absent. */
  public Path outputDir(Path fallback) {
    return outputDir != null ? outputDir : fallback;
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
