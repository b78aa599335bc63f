package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.driver.data.DamagedMnist;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged gzip input given through {@code data.path} stops {@code spindle train} with exit code 3
 * before training, naming the file, with no summary and no checkpoint, and the console gets one
 * line that names the run's log file (the stack traces are in it). The slot check refuses a local
 * master with too few slots before anything starts.
 */
class IntegrityCliTest {
  record Result(int code, String out, String err) {}

  static Result train(Path output, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "train",
                "--set",
                "data.trainLimit=1024",
                "--set",
                "training.epochs=1",
                "--set",
                "training.batchSize=128",
                "--set",
                "checkpoint.everySteps=1",
                "--output",
                output.toString()));
    args.addAll(List.of(extra));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        SpindleCli.run(
            args.toArray(String[]::new),
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Result(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** Exit 3 naming the file, one console line naming the log, nothing of a finished run. */
  static void assertRefused(Result r, Path output, String file, String what) throws IOException {
    assertEquals(ExitCode.BAD_DATA.code(), r.code(), r.err());
    List<String> lines = r.err().lines().toList();
    assertEquals(1, lines.size(), "one line on the console: " + r.err());
    String line = lines.get(0);
    assertTrue(line.startsWith("spindle: bad data: "), line);
    assertTrue(line.contains(file), line);
    assertTrue(line.contains(what), line);
    Path log = output.resolve(RunLog.FILE_NAME).toAbsolutePath();
    assertTrue(line.endsWith("(details: " + log + ")"), line);
    String logged = Files.readString(log);
    assertTrue(logged.contains("io.spindle.data.DataIntegrityException"), logged);
    assertTrue(logged.contains("\tat io.spindle."), "stack traces in the log file");
    assertFalse(Files.exists(output.resolve("summary.json")));
    assertFalse(Files.exists(output.resolve("model.zip")));
    Path checkpoints = output.resolve("checkpoints");
    if (Files.exists(checkpoints)) {
      try (Stream<Path> s = Files.list(checkpoints)) {
        assertEquals(List.of(), s.toList(), "no checkpoint");
      }
    }
    assertFalse(r.out().contains("step"), "training never started: " + r.out());
  }

  @Test
  void aFlippedByteInTheMiddleOfTheTrainingImagesExits3(@TempDir Path tmp) throws Exception {
    Path data = DamagedMnist.copy(tmp.resolve("mnist"));
    DamagedMnist.flipMiddleByte(data.resolve("train-images-idx3-ubyte.gz"));
    Path out = tmp.resolve("run");
    Result r = train(out, "--set", "data.path=" + data.toUri());
    assertRefused(
        r, out, data.resolve("train-images-idx3-ubyte.gz").toUri().toString(), "is corrupt");
  }

  @Test
  void aTruncatedTrailerExits3(@TempDir Path tmp) throws Exception {
    Path data = DamagedMnist.copy(tmp.resolve("mnist"));
    DamagedMnist.truncateTrailer(data.resolve("t10k-images-idx3-ubyte.gz"));
    Path out = tmp.resolve("run");
    Result r = train(out, "--set", "data.path=" + data.toUri());
    assertRefused(
        r,
        out,
        data.resolve("t10k-images-idx3-ubyte.gz").toUri().toString(),
        "file truncated: gzip member 1's 8-byte trailer");
  }

  @Test
  void aWrongIsizeExits3(@TempDir Path tmp) throws Exception {
    Path data = DamagedMnist.copy(tmp.resolve("mnist"));
    DamagedMnist.wrongIsize(data.resolve("train-labels-idx1-ubyte.gz"));
    Path out = tmp.resolve("run");
    Result r = train(out, "--set", "data.path=" + data.toUri());
    assertRefused(
        r, out, data.resolve("train-labels-idx1-ubyte.gz").toUri().toString(), "gives ISIZE 60009");
  }

  @Test
  void fourWorkersOnLocal2AreRefusedUpFront(@TempDir Path tmp) {
    Path out = tmp.resolve("run");
    Result r = train(out, "--set", "cluster.workers=4", "--set", "cluster.master=local[2]");
    assertEquals(ExitCode.BAD_CONFIG.code(), r.code(), r.err());
    assertTrue(
        r.err().startsWith("spindle: bad config: cluster.workers is 4 but cluster.master local[2]"),
        r.err());
    assertEquals(1, r.err().lines().count(), r.err());
    assertFalse(Files.exists(out), "refused before the output directory is made");
  }
}
