package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** Decoding, centre crop, flip, scaling and normalisation of image examples. */
class ImageTransformTest {
  static final float[] ZERO = {0, 0, 0};
  static final float[] ONE = {1, 1, 1};

  static byte[] encode(BufferedImage img, String format) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, format, out);
    return out.toByteArray();
  }

  /** Pixel (x, y) has red x*10, green y*10, blue 200. */
  static BufferedImage ramp(int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, (x * 10 << 16) | (y * 10 << 8) | 200);
      }
    }
    return img;
  }

  @Test
  void centreCropOfAWideImageKeepsTheMiddleColumnsInRgbPlanes() throws Exception {
    Example e =
        new ImageTransform(4, 4, false, false, ZERO, ONE, 1)
            .apply("wide.png", encode(ramp(8, 4), "png"), 3, 1);
    assertEquals(3, e.channels());
    assertEquals(4, e.height());
    assertEquals(3, e.index());
    assertEquals(1, e.label());
    float[] x = e.features();
    for (int y = 0; y < 4; y++) {
      for (int c = 0; c < 4; c++) {
        assertEquals((c + 2) * 10 / 255f, x[y * 4 + c], 1e-7, "red = column of the original");
        assertEquals(y * 10 / 255f, x[16 + y * 4 + c], 1e-7, "green = row");
        assertEquals(200 / 255f, x[32 + y * 4 + c], 1e-7, "blue");
      }
    }
  }

  @Test
  void flipMirrorsColumnsForSomeExamplesAndNeverChangesRows() throws Exception {
    byte[] png = encode(ramp(4, 4), "png");
    ImageTransform t = new ImageTransform(4, 4, false, true, ZERO, ONE, 5);
    int flipped = 0;
    for (int i = 0; i < 20; i++) {
      float[] x = t.apply("r.png", png, i, 0).features();
      boolean mirror = x[0] == 30 / 255f;
      assertTrue(mirror || x[0] == 0f);
      flipped += mirror ? 1 : 0;
      assertEquals(0f, x[16], "green of row 0 is 0 either way");
    }
    assertTrue(flipped > 2 && flipped < 18, "about half flipped, got " + flipped);
  }

  @Test
  void largerImagesAreScaledToTheResizeSideThenCropped() throws Exception {
    BufferedImage solid = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 48; y++) {
      for (int x = 0; x < 64; x++) {
        solid.setRGB(x, y, 0x336699);
      }
    }
    float[] mean = {0.2f, 0.4f, 0.6f};
    float[] std = {0.5f, 0.5f, 0.5f};
    Example e =
        new ImageTransform(8, 12, true, false, mean, std, 3)
            .apply("s.jpg", encode(solid, "png"), 0, 0);
    assertEquals(3 * 64, e.features().length);
    assertEquals((0x33 / 255f - 0.2f) / 0.5f, e.features()[0], 1e-6);
    assertEquals((0x66 / 255f - 0.4f) / 0.5f, e.features()[64 + 5], 1e-6);
    assertEquals((0x99 / 255f - 0.6f) / 0.5f, e.features()[128 + 63], 1e-6);
  }

  @Test
  void undecodableBytesNameTheFile() {
    DataFormatException e =
        assertThrows(
            DataFormatException.class,
            () ->
                new ImageTransform(4, 4, false, false, ZERO, ONE, 1)
                    .apply("hdfs://nn/train/cat/x.jpg", new byte[] {1, 2, 3}, 0, 0));
    assertTrue(e.getMessage().startsWith("hdfs://nn/train/cat/x.jpg: undecodable image"));
  }
}
