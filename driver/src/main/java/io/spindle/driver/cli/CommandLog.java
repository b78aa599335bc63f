package io.spindle.driver.cli;

import io.spindle.driver.RunOutput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where {@code predict} and {@code evaluate} keep their {@link RunLog} ({@code spindle.log}): the
 * directory given (evaluate's {@code --output}), else the model's run directory when it is a local
 * one (the run's log then holds its scoring too, appended), else a new folder in the temp dir. The
 * console names the file when a command fails.
 */
final class CommandLog {
  private CommandLog() {}

  /** Attaches the run log for {@code command} on {@code model}; see the class comment. */
  static RunLog attach(String command, String model, Path given, String[] args) {
    RunLog log = RunLog.attach(dirFor(command, model, given));
    org.apache.logging.log4j.LogManager.getLogger(CommandLog.class)
        .info("spindle {} {}", command, String.join(" ", args));
    return log;
  }

  static Path dirFor(String command, String model, Path given) {
    try {
      if (given != null) {
        return Files.createDirectories(given);
      }
      if (!RunOutput.isRemote(model)) {
        Path local = RunOutput.localPath(model);
        if (Files.isDirectory(local) && Files.isWritable(local)) {
          return local;
        }
      }
      return Files.createTempDirectory("spindle-" + command + "-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a directory for spindle.log: " + e, e);
    }
  }
}
