package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.DataConfig;
import io.spindle.data.Example;
import io.spindle.data.InputSplit;
import io.spindle.driver.SparkLocal;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * An image folder at scale: 100 classes x 1,000 training images (100,000 files) and 100 x 10 test
 * images. The driver's plan (class folders, counts, slices) does not grow with the number of files;
 * every image is read once, with its class and pixels. Prints the listing time, the plan's size and
 * the driver heap, next to what holding one {@code FileStatus} per file (the former driver-side
 * listing) costs. Slow (generating 100,000 PNG files): {@code -Pslow}.
 */
@Tag("slow")
class ImageFolderScaleTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();
  private static final int CLASSES = 100;
  private static final int PER_CLASS = 1000;
  private static final int TEST_PER_CLASS = 10;

  /** 8x8 image {@code i} of class {@code c}: red = class, green = i % 256, blue = i / 256. */
  static byte[] png(int c, int i) throws Exception {
    BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 8; y++) {
      for (int x = 0; x < 8; x++) {
        img.setRGB(x, y, (c << 16) | ((i % 256) << 8) | (i / 256 + y));
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  static String className(int c) {
    return String.format("n%08d", c);
  }

  static void generate(Path root) throws Exception {
    for (int c = 0; c < CLASSES; c++) {
      Path train = Files.createDirectories(root.resolve("train").resolve(className(c)));
      Path val = Files.createDirectories(root.resolve("val").resolve(className(c)));
      for (int i = 0; i < PER_CLASS; i++) {
        Files.write(train.resolve(String.format("img_%05d.png", i)), png(c, i));
      }
      for (int i = 0; i < TEST_PER_CLASS; i++) {
        Files.write(val.resolve(String.format("img_%05d.png", i)), png(c, i));
      }
    }
  }

  static long usedHeapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  @Test
  void theDriverPlansAHundredThousandFilesWithoutPerFileObjects(@TempDir Path tmp)
      throws Exception {
    Path root = tmp.resolve("folder");
    long t0 = System.nanoTime();
    generate(root);
    double generateSeconds = (System.nanoTime() - t0) / 1e9;
    String trainDir = root.resolve("train").toUri().toString();
    List<String> classes = new ArrayList<>();
    for (int c = 0; c < CLASSES; c++) {
      classes.add(className(c));
    }
    int[] labels = java.util.stream.IntStream.range(0, CLASSES).toArray();

    // warm up Spark's job path on another folder, so the listing time is the listing's
    DatasetLoader.countImages(
        SPARK.sc(), root.resolve("val").toUri().toString(), classes, Map.of(), 2);
    long heapBefore = usedHeapAfterGc();
    long t1 = System.nanoTime();
    long[] counts = DatasetLoader.countImages(SPARK.sc(), trainDir, classes, Map.of(), 2);
    List<List<InputSplit>> plan = DatasetLoader.imageSplits(trainDir, classes, labels, counts, 4);
    double listSeconds = (System.nanoTime() - t1) / 1e9;
    long heapWithPlan = usedHeapAfterGc();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(new ArrayList<>(plan));
    }
    long n = 0;
    for (long c : counts) {
      assertEquals(PER_CLASS, c);
      n += c;
    }
    assertEquals(CLASSES * PER_CLASS, n);
    long planned = 0;
    for (List<InputSplit> p : plan) {
      for (InputSplit s : p) {
        planned += s.expected();
        assertTrue(s.numUris() <= CLASSES / 4 + 1, "a partition covers a quarter of the classes");
      }
    }
    assertEquals(n, planned);
    // the plan is a few numbers per class folder: far below one byte per file
    assertTrue(bytes.size() < 32 * 1024, "plan of " + bytes.size() + " bytes");

    // what the former driver-side listing held: one FileStatus per file
    long t2 = System.nanoTime();
    Configuration conf = new Configuration();
    List<FileStatus> all = new ArrayList<>();
    for (String c : classes) {
      org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(trainDir + "/" + c);
      all.addAll(List.of(p.getFileSystem(conf).listStatus(p)));
    }
    double driverListSeconds = (System.nanoTime() - t2) / 1e9;
    long heapWithStatuses = usedHeapAfterGc();
    assertEquals(n, all.size());

    long t3 = System.nanoTime();
    DataConfig config =
        FileFormatsTest.data(
            "format=image_folder",
            "path=" + root.toUri(),
            "imageSize=8",
            "imageResize=8",
            "inputPartitions=4");
    try (DistributedDataset d =
        DatasetLoader.load(SPARK.sc(), config, root.toUri().toString(), 256, 2, 1)) {
      double loadSeconds = (System.nanoTime() - t3) / 1e9;
      assertEquals(CLASSES * PER_CLASS, d.numTrain());
      assertEquals(CLASSES * TEST_PER_CLASS, d.numTest());
      for (Example e : d.trainExamples().filter(e -> e.index() % 9973 == 0).collect()) {
        int c = e.index() / PER_CLASS;
        int i = e.index() % PER_CLASS;
        assertEquals(c, e.label(), "example " + e.index());
        float[] x = e.features();
        assertEquals(c / 255f, x[0], 1e-6);
        assertEquals((i % 256) / 255f, x[64], 1e-6);
        assertEquals((i / 256) / 255f, x[128], 1e-6);
      }
      System.out.printf(
          "image-folder scale: %,d files in %d class folders (generated in %.1f s)%n"
              + "  executor-side listing + plan: %.2f s, plan %,d bytes serialised, driver heap"
              + " %+,d bytes with the plan%n"
              + "  former driver-side listing: %.2f s, %+,d bytes of heap for %,d FileStatus%n"
              + "  full load (read + decode + cache, 4 partitions): %.1f s%n",
          n,
          CLASSES,
          generateSeconds,
          listSeconds,
          bytes.size(),
          heapWithPlan - heapBefore,
          driverListSeconds,
          heapWithStatuses - heapWithPlan,
          all.size(),
          loadSeconds);
    }
    all.clear();
  }
}
