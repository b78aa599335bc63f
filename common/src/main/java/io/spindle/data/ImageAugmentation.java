package io.spindle.data;

import io.spindle.config.AugmentConfig;
import io.spindle.config.ConfigException;
import java.io.Serializable;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntUnaryOperator;

/**
 * Per-epoch augmentation of 8-bit image batches ({@code data.augment}), run on the executors in the
 * worker's prefetch thread: a batch of encoded pixels ({@code channels x inH x inW}, CHW) becomes a
 * batch of normalised floats ({@code channels x outH x outW}).
 *
 * <p><b>Draws.</b> The crop window and the mirror of example {@code i} in epoch {@code e} come from
 * a generator seeded by (seed, e, i) alone ({@link #draw}), so they are the same in every run, for
 * any number of workers or input partitions and whichever executor prepares the batch, differ from
 * epoch to epoch, and a resumed run draws exactly what the interrupted one would have.
 *
 * <p><b>Training transform</b> ({@link #train}), by {@code crop}:
 *
 * <ul>
 *   <li>{@code padded}: the window is {@code outH x outW} at offset {@code (x0, y0)}, each drawn
 *       uniformly from {@code [-padding, in - out + padding]}; pixels outside the image are 0
 *       (black, before normalisation), as torchvision's {@code RandomCrop(padding=4)}.
 *   <li>{@code random_resized}: torchvision's {@code RandomResizedCrop}: up to 10 attempts draw an
 *       area fraction {@code s ~ U(scale)} and an aspect ratio {@code r ~ exp(U(log ratio))},
 *       window {@code w = round(sqrt(s A r))}, {@code h = round(sqrt(s A / r))}; the first that
 *       fits is placed uniformly; otherwise the whole image clamped to the ratio range, centred.
 *       The window is resized to the output bilinearly (pixel centres aligned, no antialiasing).
 *   <li>{@code none}: the centre {@code outH x outW} window.
 * </ul>
 *
 * then, with {@code flip}, the window is mirrored horizontally with probability 1/2, and every
 * value becomes {@code (pixel / 255 - mean[c]) / std[c]} (no normalisation when mean is empty).
 *
 * <p><b>Evaluation</b> ({@link #evaluate}) draws nothing: the centre window of the output size (the
 * whole image when it already has that size) and the same normalisation.
 */
public final class ImageAugmentation implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The crop of one example: a window of the input and whether it is mirrored. */
  public record Draw(int x0, int y0, int width, int height, boolean mirror) {}

  private enum Crop {
    NONE,
    PADDED,
    RANDOM_RESIZED
  }

  private final Crop crop;
  private final int padding;
  private final double scaleMin;
  private final double scaleMax;
  private final double logRatioMin;
  private final double logRatioMax;
  private final boolean flip;
  private final long seed;
  private final int channels;
  private final int inH;
  private final int inW;
  private final int outH;
  private final int outW;

  /** {@code values[c][p]}: the normalised value of pixel byte {@code p} in channel {@code c}. */
  private final float[][] values;

  private final float[] mean;
  private final float[] std;

  private ImageAugmentation(
      AugmentConfig config, int channels, int inH, int inW, int outH, int outW, long seed) {
    this.crop = Crop.valueOf(config.crop().toUpperCase(java.util.Locale.ROOT));
    this.padding = config.padding();
    this.scaleMin = config.scale().get(0);
    this.scaleMax = config.scale().get(1);
    this.logRatioMin = Math.log(config.ratio().get(0));
    this.logRatioMax = Math.log(config.ratio().get(1));
    this.flip = config.flip();
    this.seed = seed;
    this.channels = channels;
    this.inH = inH;
    this.inW = inW;
    this.outH = outH;
    this.outW = outW;
    this.mean = new float[channels];
    this.std = new float[channels];
    List<Double> m = config.mean();
    List<Double> s = config.std();
    for (int c = 0; c < channels; c++) {
      mean[c] = m.isEmpty() ? 0f : m.get(m.size() == 1 ? 0 : c).floatValue();
      std[c] = s.isEmpty() ? 1f : s.get(s.size() == 1 ? 0 : c).floatValue();
    }
    this.values = new float[channels][256];
    for (int c = 0; c < channels; c++) {
      for (int p = 0; p < 256; p++) {
        values[c][p] = (p / 255f - mean[c]) / std[c];
      }
    }
  }

  /**
   * The augmentation {@code config} describes for stored images of shape {@code inShape} (channels,
   * height, width) and square outputs of side {@code outSize} (0 = the stored size).
   */
  public static ImageAugmentation of(AugmentConfig config, int[] inShape, int outSize, long seed) {
    int c = inShape[0];
    int h = inShape[1];
    int w = inShape[2];
    int mc = config.mean().size();
    if (mc > 1 && mc != c) {
      throw new ConfigException(
          "data.augment.mean: "
              + mc
              + " values given, but the images have "
              + c
              + " channel(s); give 1 value or one per channel");
    }
    int oh = outSize == 0 ? h : outSize;
    int ow = outSize == 0 ? w : outSize;
    if (oh > h || ow > w) {
      throw new ConfigException(
          "data.augment: the output "
              + oh
              + "x"
              + ow
              + " is larger than the stored images ("
              + h
              + "x"
              + w
              + ")");
    }
    return new ImageAugmentation(config, c, h, w, oh, ow, seed);
  }

  /** The shape of an output example: channels, height, width. */
  public int[] outputShape() {
    return new int[] {channels, outH, outW};
  }

  public int outputFeatures() {
    return channels * outH * outW;
  }

  /** The generator of example {@code example}'s draws in epoch {@code epoch}. */
  static SplittableRandom rng(long seed, int epoch, int example) {
    long z = mix(seed ^ 0x5DEECE66DL);
    z = mix(z ^ (0x9E3779B97F4A7C15L * (epoch + 1L)));
    z = mix(z ^ (0xC2B2AE3D27D4EB4FL * (example + 1L)));
    return new SplittableRandom(z);
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** The window and mirror of example {@code example} in epoch {@code epoch}. */
  public Draw draw(int epoch, int example) {
    SplittableRandom rng = rng(seed, epoch, example);
    int x0;
    int y0;
    int w = outW;
    int h = outH;
    switch (crop) {
      case PADDED -> {
        x0 = rng.nextInt(inW - outW + 2 * padding + 1) - padding;
        y0 = rng.nextInt(inH - outH + 2 * padding + 1) - padding;
      }
      case RANDOM_RESIZED -> {
        int[] win = randomResized(rng);
        x0 = win[0];
        y0 = win[1];
        w = win[2];
        h = win[3];
      }
      default -> {
        x0 = (inW - outW) / 2;
        y0 = (inH - outH) / 2;
      }
    }
    boolean mirror = flip && rng.nextBoolean();
    return new Draw(x0, y0, w, h, mirror);
  }

  /** torchvision's RandomResizedCrop.get_params: {x0, y0, w, h}. */
  private int[] randomResized(SplittableRandom rng) {
    double area = (double) inH * inW;
    for (int attempt = 0; attempt < 10; attempt++) {
      double target = area * (scaleMin + (scaleMax - scaleMin) * rng.nextDouble());
      double ratio = Math.exp(logRatioMin + (logRatioMax - logRatioMin) * rng.nextDouble());
      int w = (int) Math.round(Math.sqrt(target * ratio));
      int h = (int) Math.round(Math.sqrt(target / ratio));
      if (w > 0 && h > 0 && w <= inW && h <= inH) {
        int y0 = rng.nextInt(inH - h + 1);
        int x0 = rng.nextInt(inW - w + 1);
        return new int[] {x0, y0, w, h};
      }
    }
    double inRatio = (double) inW / inH;
    double minRatio = Math.exp(logRatioMin);
    double maxRatio = Math.exp(logRatioMax);
    int w;
    int h;
    if (inRatio < minRatio) {
      w = inW;
      h = (int) Math.round(w / minRatio);
    } else if (inRatio > maxRatio) {
      h = inH;
      w = (int) Math.round(h * maxRatio);
    } else {
      w = inW;
      h = inH;
    }
    return new int[] {(inW - w) / 2, (inH - h) / 2, w, h};
  }

  /**
   * The training transform of one worker's batch of epoch {@code epoch}; {@code exampleOfRow} gives
   * the data-set index of each row. An empty batch stays empty.
   */
  public MiniBatch train(MiniBatch batch, int epoch, IntUnaryOperator exampleOfRow) {
    checkInput(batch, inH, inW);
    byte[] px = batch.pixels();
    int d = channels * inH * inW;
    float[] out = new float[batch.size() * outputFeatures()];
    for (int r = 0; r < batch.size(); r++) {
      Draw draw = draw(epoch, exampleOfRow.applyAsInt(r));
      apply(px, r * d, inH, inW, draw, out, r * outputFeatures());
    }
    return new MiniBatch(
        batch.step(), batch.size(), outputFeatures(), out, batch.labels(), null, outputShape());
  }

  /** The evaluation transform: the centre window of the output size, normalised; no draws. */
  public MiniBatch evaluate(MiniBatch batch) {
    int[] shape = batch.shape();
    checkInput(batch, shape[1], shape[2]);
    int h = shape[1];
    int w = shape[2];
    byte[] px = batch.pixels();
    int d = channels * h * w;
    Draw centre = new Draw((w - outW) / 2, (h - outH) / 2, outW, outH, false);
    float[] out = new float[batch.size() * outputFeatures()];
    for (int r = 0; r < batch.size(); r++) {
      apply(px, r * d, h, w, centre, out, r * outputFeatures());
    }
    return new MiniBatch(
        batch.step(), batch.size(), outputFeatures(), out, batch.labels(), null, outputShape());
  }

  private void checkInput(MiniBatch batch, int h, int w) {
    int[] shape = batch.shape();
    if (!batch.isEncoded() && batch.size() > 0) {
      throw new IllegalStateException(
          "data.augment needs images stored as 8-bit pixels; this batch holds floats");
    }
    if (batch.size() > 0
        && (shape[0] != channels || shape[1] != h || shape[2] != w || h < outH || w < outW)) {
      throw new IllegalStateException(
          "augmentation for "
              + channels
              + "x"
              + h
              + "x"
              + w
              + " images to "
              + outH
              + "x"
              + outW
              + " got a batch of shape "
              + java.util.Arrays.toString(shape));
    }
  }

  /**
   * Writes the transform of the image at {@code px[from..]} ({@code channels x h x w}) under {@code
   * draw} into {@code out[at..]} ({@code channels x outH x outW}).
   */
  void apply(byte[] px, int from, int h, int w, Draw draw, float[] out, int at) {
    int plane = h * w;
    int outPlane = outH * outW;
    if (draw.width() == outW && draw.height() == outH) {
      // a plain window: every output pixel is one input pixel (or padding)
      for (int c = 0; c < channels; c++) {
        float[] v = values[c];
        float pad = v[0];
        for (int y = 0; y < outH; y++) {
          int sy = draw.y0() + y;
          int o = at + c * outPlane + y * outW;
          if (sy < 0 || sy >= h) {
            java.util.Arrays.fill(out, o, o + outW, pad);
            continue;
          }
          int row = from + c * plane + sy * w;
          for (int x = 0; x < outW; x++) {
            int sx = draw.x0() + (draw.mirror() ? outW - 1 - x : x);
            out[o + x] = sx < 0 || sx >= w ? pad : v[px[row + sx] & 0xFF];
          }
        }
      }
      return;
    }
    // bilinear resize of the window, pixel centres aligned, clamped to the window
    int[] x0 = new int[outW];
    int[] x1 = new int[outW];
    float[] fx = new float[outW];
    sample(draw.x0(), draw.width(), outW, x0, x1, fx);
    int[] y0 = new int[outH];
    int[] y1 = new int[outH];
    float[] fy = new float[outH];
    sample(draw.y0(), draw.height(), outH, y0, y1, fy);
    for (int c = 0; c < channels; c++) {
      int base = from + c * plane;
      float m = mean[c];
      float s = std[c];
      for (int y = 0; y < outH; y++) {
        int r0 = base + y0[y] * w;
        int r1 = base + y1[y] * w;
        float wy = fy[y];
        int o = at + c * outPlane + y * outW;
        for (int x = 0; x < outW; x++) {
          int k = draw.mirror() ? outW - 1 - x : x;
          float top = (px[r0 + x0[k]] & 0xFF) * (1 - fx[k]) + (px[r0 + x1[k]] & 0xFF) * fx[k];
          float bottom = (px[r1 + x0[k]] & 0xFF) * (1 - fx[k]) + (px[r1 + x1[k]] & 0xFF) * fx[k];
          float p = top * (1 - wy) + bottom * wy;
          out[o + x] = (p / 255f - m) / s;
        }
      }
    }
  }

  /**
   * Source coordinates of {@code n} output samples over the window {@code [start, start + size)}:
   * sample {@code i} sits at {@code start + (i + 0.5) * size / n - 0.5}, clamped to the window,
   * between pixels {@code lo[i]} and {@code hi[i]} with weight {@code frac[i]} on {@code hi}.
   */
  static void sample(int start, int size, int n, int[] lo, int[] hi, float[] frac) {
    double scale = (double) size / n;
    for (int i = 0; i < n; i++) {
      double s = (i + 0.5) * scale - 0.5;
      s = Math.max(0, Math.min(size - 1, s));
      int a = (int) Math.floor(s);
      int b = Math.min(a + 1, size - 1);
      lo[i] = start + a;
      hi[i] = start + b;
      frac[i] = (float) (s - a);
    }
  }
}
