package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.AugmentConfig;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Augmentation on generated images, pixel for pixel: the padded crop and the flip move every pixel
 * exactly where the draw says, the random-resized crop resamples bilinearly (exact on an image
 * whose pixels are an affine function of the position), draws depend only on (seed, epoch,
 * example), and evaluation draws nothing.
 */
class ImageAugmentationTest {
  private static final float[] MEAN = {0.5f, 0.4f, 0.3f};
  private static final float[] STD = {0.2f, 0.25f, 0.5f};

  static AugmentConfig padded(int padding, boolean flip) {
    return new AugmentConfig(
        "padded", padding, null, null, flip, List.of(0.5, 0.4, 0.3), List.of(0.2, 0.25, 0.5));
  }

  /** {@code n} images of {@code 3 x h x w} with {@code pixel(i, c, y, x)} from {@code f}. */
  static MiniBatch batch(int n, int h, int w, PixelFunction f) {
    int d = 3 * h * w;
    byte[] px = new byte[n * d];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = i % 10;
      for (int c = 0; c < 3; c++) {
        for (int y = 0; y < h; y++) {
          for (int x = 0; x < w; x++) {
            px[i * d + c * h * w + y * w + x] = (byte) f.value(i, c, y, x);
          }
        }
      }
    }
    return MiniBatch.ofPixels(7, n, d, px, labels, new int[] {3, h, w});
  }

  interface PixelFunction {
    int value(int image, int c, int y, int x);
  }

  static float normalised(int pixel, int c) {
    return (pixel / 255f - MEAN[c]) / STD[c];
  }

  @Test
  void paddedCropAndFlipMoveEveryPixelWhereTheDrawSays() {
    int h = 8;
    int w = 8;
    PixelFunction f = (i, c, y, x) -> (i * 37 + c * 64 + y * 8 + x) % 256;
    MiniBatch in = batch(40, h, w, f);
    ImageAugmentation aug = ImageAugmentation.of(padded(2, true), new int[] {3, h, w}, 0, 42);
    int epoch = 3;
    MiniBatch out = aug.train(in, epoch, row -> 1000 + row);
    assertEquals(7, out.step());
    assertArrayEquals(in.labels(), out.labels());
    assertArrayEquals(new int[] {3, h, w}, out.shape());
    assertTrue(!out.isEncoded());
    float[] x = out.features();
    Set<Integer> offsets = new HashSet<>();
    int mirrored = 0;
    for (int i = 0; i < 40; i++) {
      ImageAugmentation.Draw d = aug.draw(epoch, 1000 + i);
      assertTrue(d.x0() >= -2 && d.x0() <= 2 && d.y0() >= -2 && d.y0() <= 2, d.toString());
      assertEquals(w, d.width());
      assertEquals(h, d.height());
      offsets.add(d.x0());
      mirrored += d.mirror() ? 1 : 0;
      for (int c = 0; c < 3; c++) {
        for (int yy = 0; yy < h; yy++) {
          for (int xx = 0; xx < w; xx++) {
            int sy = d.y0() + yy;
            int sx = d.x0() + (d.mirror() ? w - 1 - xx : xx);
            boolean inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
            float expected = normalised(inside ? f.value(i, c, sy, sx) : 0, c);
            assertEquals(
                expected,
                x[i * 3 * h * w + c * h * w + yy * w + xx],
                0f,
                "image " + i + " " + d + " c" + c + " y" + yy + " x" + xx);
          }
        }
      }
    }
    assertEquals(5, offsets.size(), "every offset in [-2, 2] drawn among 40 images");
    assertTrue(mirrored > 5 && mirrored < 35, "about half mirrored, got " + mirrored);
  }

  @Test
  void drawsDependOnlyOnSeedEpochAndExample() {
    int[] shape = {3, 32, 32};
    ImageAugmentation a = ImageAugmentation.of(padded(4, true), shape, 0, 42);
    ImageAugmentation b = ImageAugmentation.of(padded(4, true), shape, 0, 42);
    ImageAugmentation other = ImageAugmentation.of(padded(4, true), shape, 0, 43);
    int sameAcrossEpochs = 0;
    int sameAcrossSeeds = 0;
    for (int i = 0; i < 1000; i++) {
      assertEquals(a.draw(5, i), b.draw(5, i), "example " + i);
      assertEquals(a.draw(5, i), a.draw(5, i));
      sameAcrossEpochs += a.draw(5, i).equals(a.draw(6, i)) ? 1 : 0;
      sameAcrossSeeds += a.draw(5, i).equals(other.draw(5, i)) ? 1 : 0;
    }
    // 81 offsets x 2 mirrors: a repeat has probability 1/162
    assertTrue(sameAcrossEpochs < 30, "epochs 5 and 6 share " + sameAcrossEpochs + " draws");
    assertTrue(sameAcrossSeeds < 30, "seeds 42 and 43 share " + sameAcrossSeeds + " draws");
  }

  @Test
  void randomResizedCropResamplesTheWindowBilinearly() {
    int h = 40;
    int w = 40;
    int out = 16;
    PixelFunction f = (i, c, y, x) -> 2 * x + 3 * y + 10 * c;
    AugmentConfig config =
        new AugmentConfig(
            "random_resized", 0, null, null, true, List.of(0.5, 0.4, 0.3), List.of(0.2, 0.25, 0.5));
    ImageAugmentation aug = ImageAugmentation.of(config, new int[] {3, h, w}, out, 9);
    assertArrayEquals(new int[] {3, out, out}, aug.outputShape());
    int n = 60;
    MiniBatch result = aug.train(batch(n, h, w, f), 0, row -> row);
    float[] x = result.features();
    int[] lo = new int[out];
    int[] hi = new int[out];
    float[] frac = new float[out];
    Set<Integer> widths = new HashSet<>();
    for (int i = 0; i < n; i++) {
      ImageAugmentation.Draw d = aug.draw(0, i);
      double area = (double) d.width() * d.height() / (h * w);
      double ratio = (double) d.width() / d.height();
      assertTrue(area >= 0.07 && area <= 1.0, "area fraction " + area + " of " + d);
      assertTrue(ratio >= 0.7 && ratio <= 1.4, "aspect ratio " + ratio + " of " + d);
      assertTrue(d.x0() >= 0 && d.x0() + d.width() <= w && d.y0() >= 0 && d.y0() + d.height() <= h);
      widths.add(d.width());
      for (int c = 0; c < 3; c++) {
        for (int yy = 0; yy < out; yy++) {
          double sy = Math.max(0, Math.min(d.height() - 1, (yy + 0.5) * d.height() / out - 0.5));
          for (int xx = 0; xx < out; xx++) {
            int k = d.mirror() ? out - 1 - xx : xx;
            double sx = Math.max(0, Math.min(d.width() - 1, (k + 0.5) * d.width() / out - 0.5));
            double pixel = 2 * (d.x0() + sx) + 3 * (d.y0() + sy) + 10 * c;
            double expected = (pixel / 255 - MEAN[c]) / STD[c];
            assertEquals(
                expected,
                x[i * 3 * out * out + c * out * out + yy * out + xx],
                2e-4,
                "image " + i + " " + d + " c" + c + " y" + yy + " x" + xx);
          }
        }
      }
    }
    assertTrue(widths.size() > 10, "window widths vary: " + widths);
    ImageAugmentation.sample(3, 7, 7, lo, hi, frac); // window of the output's size: a copy
    for (int i = 0; i < 7; i++) {
      assertEquals(3 + i, lo[i]);
      assertEquals(0f, frac[i]);
    }
  }

  @Test
  void evaluationDrawsNothing() {
    PixelFunction f = (i, c, y, x) -> (i * 11 + c * 50 + y * 10 + x) % 256;
    ImageAugmentation aug = ImageAugmentation.of(padded(4, true), new int[] {3, 10, 10}, 0, 42);
    MiniBatch in = batch(5, 10, 10, f);
    MiniBatch first = aug.evaluate(in);
    assertArrayEquals(first.features(), aug.evaluate(in).features());
    float[] x = first.features();
    for (int i = 0; i < 5; i++) {
      for (int c = 0; c < 3; c++) {
        for (int y = 0; y < 10; y++) {
          for (int xx = 0; xx < 10; xx++) {
            assertEquals(normalised(f.value(i, c, y, xx), c), x[i * 300 + c * 100 + y * 10 + xx]);
          }
        }
      }
    }
    assertNotEquals(
        java.util.Arrays.toString(x),
        java.util.Arrays.toString(aug.train(in, 0, r -> r).features()),
        "training does crop and flip");
    // stored larger than the output: evaluation takes the centre window
    AugmentConfig rr =
        new AugmentConfig("random_resized", 0, null, null, true, List.of(), List.of());
    ImageAugmentation resized = ImageAugmentation.of(rr, new int[] {3, 10, 10}, 6, 1);
    float[] centre = resized.evaluate(in).features();
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < 6; y++) {
        for (int xx = 0; xx < 6; xx++) {
          assertEquals(f.value(2, c, y + 2, xx + 2) / 255f, centre[2 * 108 + c * 36 + y * 6 + xx]);
        }
      }
    }
    // stored at the output size already (image folders' test sets): normalisation only
    MiniBatch small = batch(2, 6, 6, f);
    assertArrayEquals(
        small.features(), resized.evaluate(small).features(), "no mean/std: pixel / 255");
  }

  @Test
  void oneMeanForAllChannelsOrOnePerChannel() {
    AugmentConfig one =
        new AugmentConfig("none", 0, null, null, false, List.of(0.5), List.of(0.25));
    MiniBatch in = batch(1, 2, 2, (i, c, y, x) -> 255);
    float[] x = ImageAugmentation.of(one, new int[] {3, 2, 2}, 0, 0).evaluate(in).features();
    for (float v : x) {
      assertEquals((1f - 0.5f) / 0.25f, v);
    }
    String e =
        org.junit.jupiter.api.Assertions.assertThrows(
                io.spindle.config.ConfigException.class,
                () -> ImageAugmentation.of(padded(4, false), new int[] {1, 28, 28}, 0, 0))
            .getMessage();
    assertTrue(e.contains("data.augment.mean: 3 values given, but the images have 1 channel"), e);
  }
}
