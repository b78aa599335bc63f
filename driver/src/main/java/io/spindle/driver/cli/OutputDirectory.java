package io.spindle.driver.cli;

import io.spindle.config.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The one rule for reusing an output directory: a run never silently overwrites another. A missing
 * or empty directory is used as is; a non-empty one is refused (exit 2) unless {@code --overwrite}
 * is given, in which case its {@code summary.json} is deleted before anything else is written, so
 * that a scheduler never reads the old run's summary beside the new run's files.
 */
final class OutputDirectory {
  static final String OVERWRITE = "--overwrite";

  private OutputDirectory() {}

  static void claim(Path dir, boolean overwrite) {
    if (!Files.exists(dir)) {
      return;
    }
    if (!Files.isDirectory(dir)) {
      throw new ConfigException("--output " + dir + " exists and is not a directory");
    }
    List<String> present;
    try (Stream<Path> entries = Files.list(dir)) {
      present = entries.map(p -> p.getFileName().toString()).sorted().limit(5).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list output directory " + dir + ": " + e, e);
    }
    if (present.isEmpty()) {
      return;
    }
    if (!overwrite) {
      throw new ConfigException(
          "output directory "
              + dir
              + " is not empty (holds "
              + String.join(", ", present)
              + (present.size() == 5 ? ", ..." : "")
              + "); pass "
              + OVERWRITE
              + " to replace that run, or choose another --output");
    }
    try {
      Files.deleteIfExists(dir.resolve("summary.json"));
      // the replaced run's checkpoints must not be resumed into the new one
      Path checkpoints = dir.resolve("checkpoints");
      if (Files.isDirectory(checkpoints)) {
        try (Stream<Path> all = Files.walk(checkpoints)) {
          for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.delete(p);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clear the replaced run in " + dir + ": " + e, e);
    }
  }
}
