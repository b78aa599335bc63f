package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.DataConfig;
import io.spindle.data.CifarGenerator;
import io.spindle.data.Example;
import io.spindle.driver.SparkLocal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A generated data set in the official CIFAR-10 binary layout and size ({@code
 * cifar-10-batches-bin/}: data_batch_1..5.bin and test_batch.bin, 10,000 records of 1 label byte +
 * 1024 R + 1024 G + 1024 B each) goes through Spindle's CIFAR reader: 50,000 training and 10,000
 * test examples, each with its label and pixels, in file order across the file boundaries, all ten
 * classes present, and one augmented epoch of the He et al. recipe's data path (batch 128).
 */
class CifarLayoutTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();
  private static final long SEED = 2016;

  @Test
  void officialLayoutAndSizeReadsExampleForExample(@TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("cifar-10-batches-bin");
    CifarGenerator.write(dir, CifarGenerator.OFFICIAL_PER_FILE, SEED);
    for (int f = 1; f <= 6; f++) {
      assertEquals(10_000L * 3073, Files.size(dir.resolve(CifarGenerator.fileName(f))));
    }
    assertEquals(
        List.of(CifarGenerator.CLASSES),
        Files.readAllLines(dir.resolve("batches.meta.txt")).subList(0, 10));
    // the folder above cifar-10-batches-bin/, as the official archive unpacks
    String root = tmp.toUri().toString();
    DataConfig config =
        FileFormatsTest.data(
            "dataset=cifar10",
            "path=" + root,
            "inputPartitions=3",
            "augment.crop=padded",
            "augment.padding=4",
            "augment.flip=true",
            "augment.mean=[0.4914, 0.4822, 0.4465]",
            "augment.std=[0.2470, 0.2435, 0.2616]");
    try (DistributedDataset d = DatasetLoader.load(SPARK.sc(), config, root, 128, 2, 42)) {
      assertEquals(50_000, d.numTrain());
      assertEquals(10_000, d.numTest());
      assertEquals(10, d.numClasses());
      assertEquals(391, d.stepsPerEpoch());
      int[] perClass = new int[10];
      for (Example e :
          d.trainExamples()
              .filter(e -> e.index() % 997 == 0 || e.index() % 10_000 == 9_999)
              .collect()) {
        int file = e.index() / 10_000 + 1;
        byte[] rec = CifarGenerator.record(SEED, file, e.index() % 10_000);
        assertEquals(rec[0], e.label(), "example " + e.index());
        float[] x = e.features();
        for (int k = 0; k < 3072; k++) {
          assertEquals((rec[1 + k] & 0xFF) / 255f, x[k], 0f, "example " + e.index() + " " + k);
        }
      }
      for (int label : d.trainExamples().map(Example::label).collect()) {
        perClass[label]++;
      }
      for (int c = 0; c < 10; c++) {
        assertTrue(perClass[c] > 4_500 && perClass[c] < 5_500, "class " + c + ": " + perClass[c]);
      }
      // on the executors: sizes and shapes only (the augmented floats are 600 MB)
      List<String> batches =
          d.epoch(0)
              .map(b -> b.size() + " " + java.util.Arrays.toString(b.shape()) + " " + b.isEncoded())
              .collect();
      assertEquals(2 * 391, batches.size());
      long examples = 0;
      for (String b : batches) {
        assertTrue(b.endsWith(" [3, 32, 32] false"), b);
        examples += Long.parseLong(b.substring(0, b.indexOf(' ')));
      }
      assertEquals(50_000, examples);
    }
  }
}
