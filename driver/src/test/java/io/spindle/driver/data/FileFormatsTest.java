package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.DataConfig;
import io.spindle.data.DataFormatException;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.driver.SparkLocal;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * CIFAR binary and image-folder readers on files written in the official layouts: pixel-exact
 * decoding and channel order, reading on the executors in several input partitions, corrupt files.
 */
class FileFormatsTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();

  static DataConfig data(String... sets) {
    List<String> all = new ArrayList<>();
    for (String s : sets) {
      all.add("data." + s);
    }
    return ConfigLoader.load(null, all).data();
  }

  static List<Example> trainExamples(DistributedDataset d) {
    List<Example> out = new ArrayList<>(d.trainExamples().collect());
    out.sort(Comparator.comparingInt(Example::index));
    return out;
  }

  @Test
  void cifar10BinaryDecodesPixelExactInChannelOrderAcrossFilesAndPartitions(@TempDir Path tmp)
      throws Exception {
    Path dir = DataFiles.cifar10(tmp.resolve("cifar"), 7);
    DistributedDataset d =
        DatasetLoader.load(
            SPARK.sc(),
            data("dataset=cifar10", "path=" + dir.toUri(), "inputPartitions=3"),
            dir.toUri().toString(),
            8,
            2,
            1);
    try (d) {
      assertEquals(35, d.numTrain());
      assertEquals(7, d.numTest());
      assertEquals(3072, d.numFeatures());
      assertEquals(10, d.numClasses());
      List<Example> train = trainExamples(d);
      for (int i = 0; i < 35; i++) {
        int file = i / 7 + 1;
        byte[] rec = DataFiles.cifarRecord(file, i % 7, 1, 10);
        Example e = train.get(i);
        assertEquals(i, e.index());
        assertEquals(rec[0], e.label(), "label of example " + i);
        assertEquals(3, e.channels());
        assertEquals(32, e.height());
        assertEquals(32, e.width());
        // red plane first, then green, then blue; each row-major
        assertEquals((rec[1] & 0xFF) / 255f, e.features()[0]); // R(0,0)
        assertEquals((rec[1 + 1024] & 0xFF) / 255f, e.features()[1024]); // G(0,0)
        assertEquals((rec[1 + 2048 + 33] & 0xFF) / 255f, e.features()[2048 + 33]); // B(1,1)
        for (int k = 0; k < 3072; k++) {
          assertEquals((rec[1 + k] & 0xFF) / 255f, e.features()[k]);
        }
      }
    }
  }

  @Test
  void cifar100UsesFineLabelsByDefaultAndCoarseOnRequest(@TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("cifar-100-binary");
    Files.createDirectories(dir);
    for (String name : new String[] {"train.bin", "test.bin"}) {
      byte[] all = new byte[5 * 3074];
      for (int r = 0; r < 5; r++) {
        byte[] rec = DataFiles.cifarRecord(name.length(), r, 2, 20);
        rec[1] = (byte) (50 + r); // fine label
        System.arraycopy(rec, 0, all, r * 3074, 3074);
      }
      Files.write(dir.resolve(name), all);
    }
    String root = tmp.toUri().toString(); // the folder above cifar-100-binary/ also works
    try (DistributedDataset fine =
        DatasetLoader.load(SPARK.sc(), data("dataset=cifar100", "path=" + root), root, 4, 2, 1)) {
      assertEquals(100, fine.numClasses());
      List<Example> e = trainExamples(fine);
      for (int r = 0; r < 5; r++) {
        assertEquals(50 + r, e.get(r).label());
        assertEquals((DataFiles.cifarRecord(9, r, 2, 20)[2] & 0xFF) / 255f, e.get(r).features()[0]);
      }
    }
    try (DistributedDataset coarse =
        DatasetLoader.load(
            SPARK.sc(),
            data("dataset=cifar100", "path=" + root, "cifarLabels=coarse"),
            root,
            4,
            2,
            1)) {
      assertEquals(20, coarse.numClasses());
      List<Example> e = trainExamples(coarse);
      for (int r = 0; r < 5; r++) {
        assertEquals(DataFiles.cifarRecord(9, r, 2, 20)[0], e.get(r).label());
      }
    }
  }

  @Test
  void truncatedCifarFileNamesFileAndOffsetOrIsSkipped(@TempDir Path tmp) throws Exception {
    Path dir = DataFiles.cifar10(tmp.resolve("cifar"), 4);
    Path bad = dir.resolve("data_batch_3.bin");
    byte[] b = Files.readAllBytes(bad);
    Files.write(bad, java.util.Arrays.copyOf(b, b.length - 100));
    String root = dir.toUri().toString();
    DataFormatException e =
        assertThrows(
            DataFormatException.class,
            () -> DatasetLoader.load(SPARK.sc(), data("dataset=cifar10"), root, 4, 2, 1));
    assertTrue(e.getMessage().contains("data_batch_3.bin offset " + 3 * 3073), e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    try (DistributedDataset d =
        DatasetLoader.load(
            SPARK.sc(), data("dataset=cifar10", "skipBadRecords=true"), root, 4, 2, 1)) {
      assertEquals(19, d.numTrain());
      assertEquals(1, d.skippedRecords());
    }
  }

  @Test
  void cifarLabelOutOfRangeFailsTheRunNamingOffsetOrIsSkipped(@TempDir Path tmp) throws Exception {
    Path dir = DataFiles.cifar10(tmp.resolve("cifar"), 4);
    Path bad = dir.resolve("data_batch_2.bin");
    byte[] b = Files.readAllBytes(bad);
    b[2 * 3073] = 10; // record 2's label
    Files.write(bad, b);
    String root = dir.toUri().toString();
    Exception e =
        assertThrows(
            Exception.class,
            () -> DatasetLoader.load(SPARK.sc(), data("dataset=cifar10"), root, 4, 2, 1));
    String msg = rootMessage(e);
    assertTrue(
        msg.contains("data_batch_2.bin offset " + 2 * 3073 + ": label 10 out of range"), msg);
    try (DistributedDataset d =
        DatasetLoader.load(
            SPARK.sc(),
            data("dataset=cifar10", "skipBadRecords=true", "inputPartitions=3"),
            root,
            4,
            2,
            1)) {
      assertEquals(19, d.numTrain());
      assertEquals(1, d.skippedRecords());
      List<Example> train = trainExamples(d);
      for (int i = 0; i < 19; i++) {
        assertEquals(i, train.get(i).index(), "renumbered densely");
      }
      assertEquals(d.stepsPerEpoch(), d.epoch(0).collect().size() / 2);
    }
  }

  @Test
  void imageFolderClassesAreSortedFolderNamesAndPixelsExact(@TempDir Path tmp) throws Exception {
    Path root =
        DataFiles.imageFolder(tmp.resolve("imgs"), new String[] {"zebra", "ant", "cat"}, 3, 4);
    DataConfig config =
        data(
            "format=image_folder",
            "path=" + root.toUri(),
            "imageSize=4",
            "imageResize=4",
            "mean=[0.5, 0.25, 0.0]",
            "std=[0.5, 0.5, 2.0]",
            "inputPartitions=2");
    try (DistributedDataset d =
        DatasetLoader.load(SPARK.sc(), config, root.toUri().toString(), 4, 2, 1)) {
      assertEquals(9, d.numTrain());
      assertEquals(9, d.numTest());
      assertEquals(3, d.numClasses());
      assertEquals(48, d.numFeatures());
      List<Example> train = trainExamples(d);
      // class order: ant (0), cat (1), zebra (2); the files of ant were written with seeds 3..5
      String[] written = {"zebra", "ant", "cat"};
      for (int i = 0; i < 9; i++) {
        Example e = train.get(i);
        int cls = i / 3;
        assertEquals(cls, e.label());
        String name = new String[] {"ant", "cat", "zebra"}[cls];
        int seed = java.util.Arrays.asList(written).indexOf(name) * 3 + i % 3;
        BufferedImage img = DataFiles.image(4, 4, seed);
        float[] x = e.features();
        for (int y = 0; y < 4; y++) {
          for (int c = 0; c < 4; c++) {
            int p = img.getRGB(c, y);
            int at = y * 4 + c;
            assertEquals((((p >> 16) & 0xFF) / 255f - 0.5f) / 0.5f, x[at], 1e-6);
            assertEquals((((p >> 8) & 0xFF) / 255f - 0.25f) / 0.5f, x[16 + at], 1e-6);
            assertEquals(((p & 0xFF) / 255f) / 2f, x[32 + at], 1e-6);
          }
        }
      }
    }
  }

  @Test
  void undecodableImageNamesTheFileOrIsSkipped(@TempDir Path tmp) throws Exception {
    Path root = DataFiles.imageFolder(tmp.resolve("imgs"), new String[] {"a", "b"}, 2, 4);
    Path bad = root.resolve("train/b/img1.png");
    Files.write(bad, "not an image".getBytes());
    String uri = root.toUri().toString();
    Exception e =
        assertThrows(
            Exception.class,
            () ->
                DatasetLoader.load(
                    SPARK.sc(),
                    data("format=image_folder", "path=" + uri, "imageSize=4", "imageResize=4"),
                    uri,
                    4,
                    2,
                    1));
    String msg = rootMessage(e);
    assertTrue(msg.contains("img1.png") && msg.contains("undecodable image"), msg);
    try (DistributedDataset d =
        DatasetLoader.load(
            SPARK.sc(),
            data(
                "format=image_folder",
                "path=" + uri,
                "imageSize=4",
                "imageResize=4",
                "skipBadRecords=true"),
            uri,
            4,
            2,
            1)) {
      assertEquals(3, d.numTrain());
      assertEquals(1, d.skippedRecords());
    }
  }

  @Test
  void randomCropAndFlipDependOnlyOnSeedAndIndex(@TempDir Path tmp) throws Exception {
    Path root = DataFiles.imageFolder(tmp.resolve("imgs"), new String[] {"a", "b"}, 3, 10);
    String uri = root.toUri().toString();
    List<List<float[]>> runs = new ArrayList<>();
    for (int partitions : new int[] {1, 3}) {
      try (DistributedDataset d =
          DatasetLoader.load(
              SPARK.sc(),
              data(
                  "format=image_folder",
                  "path=" + uri,
                  "imageSize=6",
                  "imageResize=8",
                  "crop=random",
                  "flip=true",
                  "inputPartitions=" + partitions),
              uri,
              4,
              2,
              7)) {
        List<float[]> xs = new ArrayList<>();
        for (Example e : trainExamples(d)) {
          assertEquals(108, e.features().length);
          xs.add(e.features());
        }
        runs.add(xs);
      }
    }
    for (int i = 0; i < runs.get(0).size(); i++) {
      assertArrayEquals(runs.get(0).get(i), runs.get(1).get(i));
    }
  }

  static String rootMessage(Throwable t) {
    StringBuilder all = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      all.append(c.getMessage()).append(" | ");
      if (c.getCause() == c) {
        break;
      }
    }
    return all.toString();
  }

  static List<MiniBatch> batches(DistributedDataset d, int epoch) {
    return d.epoch(epoch).collect();
  }
}
