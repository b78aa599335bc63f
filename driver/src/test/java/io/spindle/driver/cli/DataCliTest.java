package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad data read on the executors stops the run before training with exit code 3. */
class DataCliTest {
  @Test
  void labelOutOfRangeInACifarFileIsABadDataExitNamingFileAndOffset(@TempDir Path tmp)
      throws Exception {
    Path dir = tmp.resolve("cifar");
    Files.createDirectories(dir);
    for (String name :
        new String[] {
          "data_batch_1.bin",
          "data_batch_2.bin",
          "data_batch_3.bin",
          "data_batch_4.bin",
          "data_batch_5.bin",
          "test_batch.bin"
        }) {
      byte[] b = new byte[3 * 3073];
      if (name.equals("data_batch_4.bin")) {
        b[3073] = 42; // record 1's label
      }
      Files.write(dir.resolve(name), b);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        SpindleCli.run(
            new String[] {
              "train",
              "--set",
              "data.dataset=cifar10",
              "--set",
              "data.path=" + dir.toUri(),
              "--set",
              "cluster.master=local[2]",
              "--output",
              tmp.resolve("out").toString()
            },
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    String e = err.toString(StandardCharsets.UTF_8);
    assertEquals(ExitCode.BAD_DATA.code(), code, e);
    assertTrue(e.contains("data_batch_4.bin offset 3073: label 42 out of range [0, 10)"), e);
    assertFalse(Files.exists(tmp.resolve("out/summary.json")));
  }
}
