package io.spindle.driver.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.config.ConfigException;
import io.spindle.driver.checkpoint.Checkpoint;
import io.spindle.driver.checkpoint.CheckpointStore;
import java.io.PrintStream;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.nd4j.linalg.api.ndarray.INDArray;

/** {@code spindle inspect CHECKPOINT}: verifies one checkpoint and prints what it holds. */
final class InspectCommand {
  static final String USAGE =
      """
      Usage: spindle inspect CHECKPOINT | CHECKPOINT_DIR

      Verifies a checkpoint directory (a local path or a Hadoop URI such as
      file:///runs/x/checkpoints/step-000000000120): the manifest, the format version, and the
      length and SHA-256 of every file; then prints its counters, data cursor, RNG seeds,
      optimiser, provenance and config. Exit code 3 names the damaged file. Given a run's
      checkpoint directory (runs/x/checkpoints), lists its checkpoints with their status.
      """;

  private InspectCommand() {}

  static int run(String[] args, PrintStream out) {
    if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
      out.print(USAGE);
      return ExitCode.SUCCESS.code();
    }
    if (args.length != 1 || args[0].startsWith("--")) {
      throw new ConfigException(
          "inspect expects exactly one checkpoint directory, got " + java.util.List.of(args));
    }
    CheckpointStore dir = CheckpointStore.open(args[0], new Configuration());
    java.util.List<Long> steps = dir.steps();
    if (!steps.isEmpty()) {
      // a checkpoint directory of a run: list its checkpoints, newest first, with their status
      out.println("checkpoints in " + dir.root() + " (newest first):");
      for (long step : steps) {
        String status;
        try {
          dir.read(dir.pathOf(step));
          status = "valid";
        } catch (io.spindle.driver.checkpoint.CheckpointException e) {
          status = "DAMAGED: " + e.getMessage();
        }
        out.println("  " + dir.pathOf(step).getName() + "  " + status);
      }
      return ExitCode.SUCCESS.code();
    }
    Checkpoint cp = dir.read(dir.root());
    JsonNode m = cp.manifest();
    out.println("checkpoint " + cp.path() + ": valid (every file matches its SHA-256)");
    out.printf(
        Locale.ROOT,
        "  format %s version %d, written %s%n",
        m.path("format").asText(),
        m.path("formatVersion").asInt(),
        m.path("createdAt").asText());
    out.printf(
        Locale.ROOT,
        "  global step %d, epoch %d, %d of %d steps of the epoch done%s, %d examples seen, sync"
            + " %s%n",
        cp.globalStep(),
        cp.epoch() + 1,
        cp.stepInEpoch(),
        cp.stepsPerEpoch(),
        cp.epochEvaluated() ? " (evaluated)" : "",
        cp.examplesSeen(),
        m.path("sync").asText());
    section(out, "data cursor", m.path("dataCursor"));
    section(out, "rng", m.path("rng"));
    section(out, "optimizer", m.path("optimizer"));
    out.println(
        "  compression residuals: " + m.path("compressionResiduals").asText("none recorded"));
    INDArray w = cp.params();
    out.printf(
        Locale.ROOT,
        "  parameters: %d x %s, L2 norm %.6g, mean |w| %.6g%n",
        cp.numParams(),
        cp.float64() ? "float64" : "float32",
        w.norm2Number().doubleValue(),
        w.norm1Number().doubleValue() / Math.max(1, cp.numParams()));
    section(out, "files", m.path("files"));
    section(out, "provenance", m.path("provenance"));
    out.println("  config:");
    for (String line : cp.configYaml().split("\n")) {
      out.println("    " + line);
    }
    return ExitCode.SUCCESS.code();
  }

  private static void section(PrintStream out, String name, JsonNode node) {
    out.println("  " + name + ":");
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      out.println(
          "    "
              + e.getKey()
              + ": "
              + (e.getValue().isValueNode() ? e.getValue().asText() : e.getValue()));
    }
  }
}
