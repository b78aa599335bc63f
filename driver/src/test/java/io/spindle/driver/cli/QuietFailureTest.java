package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.driver.cluster.StandaloneCluster;
import io.spindle.driver.data.DamagedMnist;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a user sees, in a JVM of its own as {@code ./spindle} runs it (Log4j's console included,
 * which an in-process test cannot capture): bad data read on the executors gives exactly one line
 * on stderr, naming the file and the run's log file; the executors' stack traces, which Spark logs
 * on the driver, are in that file and not on the console.
 */
class QuietFailureTest {
  @Test
  void badDataGivesOneConsoleLineAndTheStackTracesGoToTheLogFile(@TempDir Path tmp)
      throws Exception {
    Path data = DamagedMnist.copy(tmp.resolve("mnist"));
    Path images = data.resolve("train-images-idx3-ubyte.gz");
    DamagedMnist.flipMiddleByte(images);
    Path out = tmp.resolve("run");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx1g");
    command.addAll(StandaloneCluster.JAVA17_OPENS);
    command.add("-cp");
    command.add(String.join(File.pathSeparator, StandaloneCluster.defaultClasspath()));
    command.add(SpindleCli.class.getName());
    command.addAll(
        List.of(
            "train",
            "--set",
            "data.path=" + data.toUri(),
            "--set",
            "data.trainLimit=1024",
            "--set",
            "training.epochs=1",
            "--output",
            out.toString()));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    pb.redirectOutput(tmp.resolve("stdout.txt").toFile());
    pb.redirectError(tmp.resolve("stderr.txt").toFile());
    Process p = pb.start();
    try {
      assertTrue(p.waitFor(240, TimeUnit.SECONDS), "the run ended");
    } finally {
      p.destroyForcibly();
    }
    String stderr = Files.readString(tmp.resolve("stderr.txt"), StandardCharsets.UTF_8);
    String stdout = Files.readString(tmp.resolve("stdout.txt"), StandardCharsets.UTF_8);
    assertEquals(ExitCode.BAD_DATA.code(), p.exitValue(), stderr + stdout);
    // one line for the failure; anything else is Spindle's own one-line progress log at INFO
    List<String> lines = stderr.lines().filter(l -> l.startsWith("spindle: ")).toList();
    assertEquals(1, lines.size(), "stderr:\n" + stderr);
    for (String other : stderr.lines().filter(l -> !l.startsWith("spindle: ")).toList()) {
      assertTrue(other.matches("\\d\\d:\\d\\d:\\d\\d INFO  \\w+: .*"), "stderr:\n" + stderr);
    }
    Path log = out.resolve(RunLog.FILE_NAME).toAbsolutePath();
    assertTrue(lines.get(0).startsWith("spindle: bad data: " + images.toUri()), lines.get(0));
    assertTrue(lines.get(0).contains("gzip member 1 is corrupt"), lines.get(0));
    assertTrue(lines.get(0).endsWith("(details: " + log + ")"), lines.get(0));
    assertFalse(stdout.contains("\tat "), "no stack trace on stdout:\n" + stdout);
    String logged = Files.readString(log, StandardCharsets.UTF_8);
    // Spark's report of the failed task, with the executor's stack trace, and Spindle's own
    assertTrue(logged.contains("TaskSetManager"), logged);
    assertTrue(logged.contains("\tat io.spindle.worker.SplitReader"), logged);
    assertTrue(logged.contains("spindle: bad data: " + images.toUri()), logged);
    assertFalse(Files.exists(out.resolve("summary.json")));
  }
}
