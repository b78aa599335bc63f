package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.DataConfig;
import io.spindle.driver.SparkLocal;
import io.spindle.driver.cli.ExitCode;
import io.spindle.driver.cli.SpindleCli;
import io.spindle.worker.VerifiedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the integrity check costs on real MNIST files read through the loader: each gzip file is
 * read to its end once (by the split whose range ends last), nothing more is decompressed than the
 * part after {@code data.trainLimit}, a second read of the same files decompresses nothing extra,
 * and a file that changes between planning and reading is refused.
 */
class InputVerificationTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();

  static DistributedDataset load(Path root, String... sets) {
    DataConfig config = FileFormatsTest.data(sets);
    return DatasetLoader.load(SPARK.sc(), config, root.toUri().toString(), 100, 2, 42);
  }

  @Test
  void eachFileIsVerifiedOnceAndOnlyThePartAfterTheLimitIsExtraWork(@TempDir Path tmp)
      throws Exception {
    Path root = DamagedMnist.copy(tmp.resolve("mnist"));
    VerifiedFiles.forgetAll();
    long verified = VerifiedFiles.verifications();
    long drained = VerifiedFiles.drainedBytes();
    try (DistributedDataset d =
        load(root, "dataset=mnist", "trainLimit=2000", "inputPartitions=3")) {
      assertEquals(2000, d.numTrain());
    }
    // four files; the test files are read twice while loading but verified once
    assertEquals(4, VerifiedFiles.verifications() - verified);
    // beyond the data itself: the 58,000 training images and labels after the limit
    assertEquals(58_000L * 784 + 58_000L, VerifiedFiles.drainedBytes() - drained);

    try (DistributedDataset again =
        load(root, "dataset=mnist", "trainLimit=2000", "inputPartitions=3")) {
      assertEquals(2000, again.numTrain());
    }
    assertEquals(4, VerifiedFiles.verifications() - verified, "the verdicts are kept");
    assertEquals(58_000L * 784 + 58_000L, VerifiedFiles.drainedBytes() - drained);

    // without a limit the last split reads up to the trailer anyway: no extra decompression
    VerifiedFiles.forgetAll();
    long drainedBefore = VerifiedFiles.drainedBytes();
    try (DistributedDataset whole = load(root, "dataset=mnist", "inputPartitions=3")) {
      assertEquals(60_000, whole.numTrain());
    }
    assertEquals(8, VerifiedFiles.verifications() - verified);
    assertEquals(0, VerifiedFiles.drainedBytes() - drainedBefore);
  }

  @Test
  void aFileChangedAfterPlanningFailsTheRead(@TempDir Path tmp) throws Exception {
    Path root = DamagedMnist.copy(tmp.resolve("mnist"));
    DataConfig config = FileFormatsTest.data("dataset=mnist", "trainLimit=500");
    DatasetLoader.Source source =
        DatasetLoader.idx(
            SPARK.sc(),
            config,
            root.toUri().toString(),
            2,
            DatasetLoader.hadoopSettings(SPARK.sc(), config));
    Path labels = root.resolve("train-labels-idx1-ubyte.gz");
    Files.setLastModifiedTime(
        labels, FileTime.fromMillis(Files.getLastModifiedTime(labels).toMillis() + 60_000));
    Exception e = assertThrows(Exception.class, () -> source.train().count());
    assertEquals(ExitCode.BAD_DATA, SpindleCli.classify(e));
    assertTrue(
        String.valueOf(e.getMessage()).contains("changed while the run was reading it"),
        e.getMessage());
  }
}
