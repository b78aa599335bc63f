package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.DataConfig;
import io.spindle.data.EpochPlan;
import io.spindle.data.Example;
import io.spindle.data.ImageAugmentation;
import io.spindle.data.MiniBatch;
import io.spindle.driver.SparkLocal;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * An image folder with {@code data.augment}: training images are stored as {@code imageResize}
 * square 8-bit pixels and random-resized-cropped to {@code imageSize} every epoch; test images are
 * the {@code imageSize} centre crop, normalised and nothing else.
 */
class ImageFolderAugmentationTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();

  @Test
  void randomResizedCropOfStoredPixelsAndACentreCropForTesting(@TempDir Path tmp) throws Exception {
    Path root = DataFiles.imageFolder(tmp.resolve("imgs"), new String[] {"b", "a"}, 4, 12);
    DataConfig config =
        FileFormatsTest.data(
            "format=image_folder",
            "path=" + root.toUri(),
            "imageSize=8",
            "imageResize=12",
            "augment.crop=random_resized",
            "augment.flip=true",
            "augment.mean=[0.5]",
            "augment.std=[0.25]");
    try (DistributedDataset d =
        DatasetLoader.load(SPARK.sc(), config, root.toUri().toString(), 4, 2, 3)) {
      assertEquals(8, d.numTrain());
      assertEquals(3 * 8 * 8, d.numFeatures());
      List<Example> stored = FileFormatsTest.trainExamples(d);
      assertTrue(stored.get(0).isEncoded());
      assertEquals(3 * 12 * 12, stored.get(0).numFeatures());
      ImageAugmentation aug = d.augmentation();
      for (int epoch = 0; epoch < 2; epoch++) {
        List<MiniBatch> batches = d.epoch(epoch).collect();
        EpochPlan plan = new EpochPlan(8, 4, 2, 3, epoch);
        int steps = d.stepsPerEpoch();
        for (int j = 0; j < batches.size(); j++) {
          MiniBatch b = batches.get(j);
          assertArrayEquals(new int[] {3, 8, 8}, b.shape());
          for (int r = 0; r < b.size(); r++) {
            int i = plan.exampleAt(b.step(), j / steps, r);
            Example e = stored.get(i);
            byte[] px = new byte[e.numFeatures()];
            float[] f = e.features();
            for (int k = 0; k < px.length; k++) {
              px[k] = (byte) Math.round(f[k] * 255);
            }
            MiniBatch one =
                MiniBatch.ofPixels(0, 1, px.length, px, new int[] {0}, new int[] {3, 12, 12});
            int example = i;
            float[] expected = aug.train(one, epoch, row -> example).features();
            float[] got = java.util.Arrays.copyOfRange(b.features(), r * 192, (r + 1) * 192);
            assertArrayEquals(expected, got, "example " + i + " epoch " + epoch);
          }
        }
      }
      // test: the written val images (seeds 8..15, class folders in sorted order a, b)
      List<MiniBatch> test = d.test().collect();
      int i = 0;
      for (MiniBatch b : test) {
        for (int r = 0; r < b.size(); r++, i++) {
          int cls = i / 4; // a = 0, b = 1; "b" was written first
          int seed = 8 + (cls == 0 ? 4 : 0) + i % 4;
          BufferedImage img = DataFiles.image(12, 12, seed);
          assertEquals(cls, b.labels()[r]);
          float[] x = b.features();
          for (int y = 0; y < 8; y++) {
            for (int c = 0; c < 8; c++) {
              int p = img.getRGB(c + 2, y + 2);
              int at = r * 192 + y * 8 + c;
              assertEquals((((p >> 16) & 0xFF) / 255f - 0.5f) / 0.25f, x[at], 0f);
              assertEquals((((p >> 8) & 0xFF) / 255f - 0.5f) / 0.25f, x[at + 64], 0f);
              assertEquals(((p & 0xFF) / 255f - 0.5f) / 0.25f, x[at + 128], 0f);
            }
          }
        }
      }
      assertEquals(8, i);
    }
  }
}
