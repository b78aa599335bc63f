package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.spindle.testing.TestDatasets;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real MNIST and Fashion-MNIST files, through the mirror and the cache. */
class MnistMirrorTest {
  @TempDir static Path cache;

  static byte[] labels(Map<String, Path> files, String name) throws Exception {
    try (InputStream in = Files.newInputStream(files.get(name))) {
      return IdxReader.readLabels(name, in, 10);
    }
  }

  static int[] counts(byte[] labels) {
    int[] c = new int[10];
    for (byte b : labels) {
      c[b]++;
    }
    return c;
  }

  @Test
  void mnistMatchesItsPublishedFacts() throws Exception {
    Map<String, Path> files =
        DatasetDownloader.fetch(
            DatasetSpec.named("mnist"), TestDatasets.mirror().toString(), cache);
    byte[] train = labels(files, DatasetSpec.TRAIN_LABELS);
    assertEquals(60000, train.length);
    assertArrayEquals(new byte[] {5, 0, 4, 1, 9}, Arrays.copyOf(train, 5));
    assertArrayEquals(
        new int[] {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, counts(train));
    byte[] test = labels(files, DatasetSpec.TEST_LABELS);
    assertArrayEquals(new byte[] {7, 2, 1, 0, 4}, Arrays.copyOf(test, 5));
    try (InputStream in = Files.newInputStream(files.get(DatasetSpec.TRAIN_IMAGES))) {
      IdxImages images = IdxReader.readImages(DatasetSpec.TRAIN_IMAGES, in);
      assertEquals(60000, images.count());
      assertEquals(28, images.rows());
      assertEquals(28, images.cols());
    }
  }

  @Test
  void fashionMnistMatchesItsPublishedFacts() throws Exception {
    Map<String, Path> files =
        DatasetDownloader.fetch(
            DatasetSpec.named("fashion-mnist"), TestDatasets.mirror().toString(), cache);
    byte[] train = labels(files, DatasetSpec.TRAIN_LABELS);
    assertArrayEquals(new byte[] {9, 0, 0, 3, 0}, Arrays.copyOf(train, 5));
    int[] perClass = new int[10];
    Arrays.fill(perClass, 6000);
    assertArrayEquals(perClass, counts(train));
    int[] perClassTest = new int[10];
    Arrays.fill(perClassTest, 1000);
    assertArrayEquals(perClassTest, counts(labels(files, DatasetSpec.TEST_LABELS)));
  }
}
