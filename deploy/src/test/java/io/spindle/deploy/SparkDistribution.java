package io.spindle.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A Spark installation laid out like a Spark 3.5 distribution, for recipes that call {@code
 * $SPARK_HOME/bin/spark-submit}: {@code jars/} (links to the given jars: what the cluster has),
 * {@code conf/spark-defaults.conf} (the installation's defaults) and {@code bin/spark-submit},
 * which like Spark's own asks Spark's launcher ({@code org.apache.spark.launcher.Main}) for the
 * command line of the submit JVM and runs it, so driver memory, Java options and the Java 17 module
 * opens are applied as a real installation applies them.
 */
final class SparkDistribution {
  private static final String SPARK_SUBMIT =
      """
      #!/usr/bin/env bash
      # bin/spark-submit of a test installation (SparkDistribution): Spark's launcher builds the
      # command line of the submit JVM, as Spark's own bin/spark-class does, and it is run.
      set -euo pipefail
      export SPARK_HOME="$(cd "$(dirname "$0")/.." && pwd)"
      export SPARK_CONF_DIR="${SPARK_CONF_DIR:-$SPARK_HOME/conf}"
      export SPARK_SCALA_VERSION=2.12
      java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
      cmd=()
      while IFS= read -r -d '' arg; do cmd+=("$arg"); done < <(
        "$java" -Xmx128m -cp "$SPARK_HOME/jars/*" org.apache.spark.launcher.Main \\
          org.apache.spark.deploy.SparkSubmit "$@"
        printf '%d\\0' $?)
      code="${cmd[-1]}"
      unset 'cmd[-1]'
      [[ "$code" == 0 ]] || exit "$code"
      # the launcher writes an empty line ending in NUL before the command
      [[ -z "${cmd[0]}" ]] && cmd=("${cmd[@]:1}")
      cmd[0]="${cmd[0]#$'\\n'}"
      exec "${cmd[@]}"
      """;

  private final Path home;

  private SparkDistribution(Path home) {
    this.home = home;
  }

  /** Lays out the installation in {@code home} with {@code jars} and {@code defaults}. */
  static SparkDistribution create(Path home, List<String> jars, Map<String, String> defaults) {
    try {
      Path lib = Files.createDirectories(home.resolve("jars"));
      for (String jar : jars) {
        Path source = Path.of(jar);
        Files.createSymbolicLink(lib.resolve(source.getFileName()), source.toAbsolutePath());
      }
      Path conf = Files.createDirectories(home.resolve("conf"));
      StringBuilder sb = new StringBuilder("# the test installation's defaults\n");
      new TreeMap<>(defaults).forEach((k, v) -> sb.append(k).append(' ').append(v).append('\n'));
      Files.writeString(conf.resolve("spark-defaults.conf"), sb, StandardCharsets.UTF_8);
      Path bin = Files.createDirectories(home.resolve("bin"));
      Path submit = bin.resolve("spark-submit");
      Files.writeString(submit, SPARK_SUBMIT, StandardCharsets.UTF_8);
      Files.setPosixFilePermissions(submit, PosixFilePermissions.fromString("rwxr-xr-x"));
      return new SparkDistribution(home);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot lay out a Spark installation in " + home, e);
    }
  }

  /** {@code SPARK_HOME}. */
  Path home() {
    return home;
  }
}
