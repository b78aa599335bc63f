package io.spindle.driver.cli;

import io.spindle.config.ConfigException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The options of {@code predict} and {@code evaluate}: {@code --name value} or {@code
 * --name=value}, {@code --set key=value} (repeatable) and flags. Values are kept as given, so that
 * {@code --output hdfs://...} stays a URI (the train command's options read {@code --output} as a
 * local path).
 */
final class ScoringOptions {
  private final Map<String, String> values = new LinkedHashMap<>();
  private final List<String> sets = new ArrayList<>();
  private final Set<String> flags = new HashSet<>();

  private ScoringOptions() {}

  static ScoringOptions parse(
      String command, String[] args, List<String> valued, List<String> flagNames) {
    ScoringOptions o = new ScoringOptions();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        o.flags.add("--help");
        continue;
      }
      if (flagNames.contains(a)) {
        o.flags.add(a);
        continue;
      }
      int eq = a.indexOf('=');
      String name = eq > 0 && a.startsWith("--") ? a.substring(0, eq) : a;
      if (!valued.contains(name) && !name.equals("--set")) {
        List<String> expected = new ArrayList<>(valued);
        expected.add("--set");
        expected.addAll(flagNames);
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
      if (name.equals("--set")) {
        o.sets.add(value);
      } else {
        o.values.put(name, value);
      }
    }
    return o;
  }

  boolean help() {
    return flags.contains("--help");
  }

  boolean flag(String name) {
    return flags.contains(name);
  }

  /** The option's value, or null. */
  String get(String name) {
    return values.get(name);
  }

  /** The option's value; a usage error naming it when absent. */
  String required(String name, String command) {
    String v = values.get(name);
    if (v == null || v.isBlank()) {
      throw new ConfigException(command + " needs " + name);
    }
    return v;
  }

  int positiveInt(String name, int defaultValue) {
    String v = values.get(name);
    return v == null ? defaultValue : CommandOptions.positiveInt(v, name);
  }

  /** The {@code --set} overrides, in order. */
  List<String> sets() {
    return List.copyOf(sets);
  }
}
