package io.spindle.data;

import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.Serializable;
import java.util.Arrays;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/**
 * Turns an encoded image (JPEG, PNG, anything {@code javax.imageio} reads) into a normalised {@code
 * 3 x size x size} example: scale so that the shorter side is {@code resize} (bilinear; skipped
 * when it already is), crop {@code size x size} from the centre or at a random place, optionally
 * mirror horizontally with probability 1/2, then {@code (pixel / 255 - mean[c]) / std[c]} per
 * channel, channels in R, G, B order. Random choices come from a generator seeded by (seed, example
 * index), so they do not depend on which executor decodes the image.
 *
 * <p>{@link #pixels} instead keeps the centre crop as 8-bit pixels (no flip, no normalisation): the
 * stored form of images that {@code ImageAugmentation} crops, flips and normalises every epoch.
 */
public final class ImageTransform implements Serializable {
  private static final long serialVersionUID = 1L;
  private final int size;
  private final int resize;
  private final boolean randomCrop;
  private final boolean flip;
  private final float[] mean;
  private final float[] std;
  private final long seed;
  private final boolean encoded;

  public ImageTransform(
      int size,
      int resize,
      boolean randomCrop,
      boolean flip,
      float[] mean,
      float[] std,
      long seed) {
    this(size, resize, randomCrop, flip, mean, std, seed, false);
  }

  /**
   * Images kept as 8-bit pixels: the shorter side scaled to {@code resize}, the centre {@code size
   * x size} window, channels R, G, B.
   */
  public static ImageTransform pixels(int size, int resize) {
    return new ImageTransform(
        size, resize, false, false, new float[] {0, 0, 0}, new float[] {1, 1, 1}, 0, true);
  }

  private ImageTransform(
      int size,
      int resize,
      boolean randomCrop,
      boolean flip,
      float[] mean,
      float[] std,
      long seed,
      boolean encoded) {
    if (size <= 0 || resize < size) {
      throw new IllegalArgumentException(
          "expected 0 < size <= resize, got size " + size + ", resize " + resize);
    }
    if (mean.length != 3 || std.length != 3) {
      throw new IllegalArgumentException(
          "expected 3 means and 3 standard deviations, got "
              + Arrays.toString(mean)
              + " and "
              + Arrays.toString(std));
    }
    this.size = size;
    this.resize = resize;
    this.randomCrop = randomCrop;
    this.flip = flip;
    this.mean = mean.clone();
    this.std = std.clone();
    this.seed = seed;
    this.encoded = encoded;
  }

  public int size() {
    return size;
  }

  /** Decodes {@code bytes} (the content of {@code source}) into the example {@code index}. */
  public Example apply(String source, byte[] bytes, int index, int label) {
    BufferedImage img;
    try {
      img = ImageIO.read(new ByteArrayInputStream(bytes));
    } catch (IOException | RuntimeException e) {
      throw new DataFormatException(source + ": undecodable image: " + e.getMessage(), e);
    }
    if (img == null || img.getWidth() <= 0 || img.getHeight() <= 0) {
      throw new DataFormatException(
          source + ": undecodable image (" + bytes.length + " bytes, no known image format)");
    }
    img = scaleShorterSide(img, resize);
    SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ (index + 1L));
    int w = img.getWidth();
    int h = img.getHeight();
    int x0 = randomCrop ? rng.nextInt(w - size + 1) : (w - size) / 2;
    int y0 = randomCrop ? rng.nextInt(h - size + 1) : (h - size) / 2;
    boolean mirror = flip && rng.nextBoolean();
    int[] argb = img.getRGB(x0, y0, size, size, null, 0, size);
    int plane = size * size;
    if (encoded) {
      byte[] px = new byte[3 * plane];
      for (int i = 0; i < plane; i++) {
        int p = argb[i];
        px[i] = (byte) (p >> 16);
        px[plane + i] = (byte) (p >> 8);
        px[2 * plane + i] = (byte) p;
      }
      return Example.ofPixels(index, px, label, 3, size, size);
    }
    float[] x = new float[3 * plane];
    for (int r = 0; r < size; r++) {
      for (int c = 0; c < size; c++) {
        int p = argb[r * size + (mirror ? size - 1 - c : c)];
        int at = r * size + c;
        x[at] = (((p >> 16) & 0xFF) / 255f - mean[0]) / std[0];
        x[plane + at] = (((p >> 8) & 0xFF) / 255f - mean[1]) / std[1];
        x[2 * plane + at] = ((p & 0xFF) / 255f - mean[2]) / std[2];
      }
    }
    return new Example(index, x, label, Float.NaN, 3, size, size);
  }

  private static BufferedImage scaleShorterSide(BufferedImage img, int target) {
    int w = img.getWidth();
    int h = img.getHeight();
    int shorter = Math.min(w, h);
    if (shorter == target) {
      return img;
    }
    int nw = (int) Math.max(target, Math.round((double) w * target / shorter));
    int nh = (int) Math.max(target, Math.round((double) h * target / shorter));
    BufferedImage out = new BufferedImage(nw, nh, BufferedImage.TYPE_INT_RGB);
    var g = out.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(img, 0, 0, nw, nh, null);
    } finally {
      g.dispose();
    }
    return out;
  }
}
