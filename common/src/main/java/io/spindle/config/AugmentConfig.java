package io.spindle.config;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Training-time augmentation of image data sets ({@code data.augment}), drawn afresh every epoch on
 * the executors from (seed, epoch, example index); see {@code io.spindle.data.ImageAugmentation}.
 * Evaluation applies only the deterministic part: the centre crop and the normalisation.
 *
 * @param crop {@code none}; {@code padded}: pad {@code padding} pixels of value 0 on every side,
 *     then take a random crop of the original size (He et al. 2016, CIFAR); {@code random_resized}:
 *     a random window of {@code scale} of the image's area and aspect ratio (width / height) in
 *     {@code ratio} (log-uniform), resized bilinearly to the output size (Szegedy et al. 2015;
 *     torchvision's RandomResizedCrop)
 * @param padding pixels added on each side for the {@code padded} crop
 * @param scale {@code [min, max]} fraction of the image's area a {@code random_resized} window
 *     covers, {@code 0 < min <= max <= 1}
 * @param ratio {@code [min, max]} aspect ratio of a {@code random_resized} window, {@code 0 < min
 *     <= max}
 * @param flip mirror horizontally with probability 1/2
 * @param mean per-channel mean of {@code pixel / 255} subtracted after the crop: 1 value (any
 *     number of channels) or one per channel; empty: no normalisation
 * @param std per-channel standard deviation divided by after subtracting the mean (same length as
 *     {@code mean})
 */
public record AugmentConfig(
    String crop,
    int padding,
    List<Double> scale,
    List<Double> ratio,
    boolean flip,
    List<Double> mean,
    List<Double> std)
    implements java.io.Serializable {
  public static final Set<String> CROPS = Set.of("none", "padded", "random_resized");

  public AugmentConfig {
    crop = crop == null || crop.isBlank() ? "none" : crop.trim();
    if (!CROPS.contains(crop)) {
      throw new ConfigException(
          "crop must be one of " + new TreeSet<>(CROPS) + ", got '" + crop + "'");
    }
    Check.nonNegative("padding", padding);
    if (crop.equals("padded")) {
      Check.positive("padding", padding);
    } else if (padding != 0) {
      throw new ConfigException(
          "padding applies to crop: padded only, got padding " + padding + " with crop " + crop);
    }
    scale = scale == null ? List.of(0.08, 1.0) : List.copyOf(scale);
    ratio = ratio == null ? List.of(0.75, 4.0 / 3.0) : List.copyOf(ratio);
    range("scale", scale, 1.0);
    range("ratio", ratio, Double.POSITIVE_INFINITY);
    mean = mean == null ? List.of() : List.copyOf(mean);
    std = std == null ? List.of() : List.copyOf(std);
    if (mean.size() != std.size() || mean.size() > 3) {
      throw new ConfigException(
          "mean and std must list the same number of values (0, 1 or one per channel), got "
              + mean
              + " and "
              + std);
    }
    for (Double v : mean) {
      if (v == null || !Double.isFinite(v)) {
        throw new ConfigException("mean values must be finite, got " + mean);
      }
    }
    for (Double v : std) {
      if (v == null || !Double.isFinite(v) || v <= 0) {
        throw new ConfigException("std values must be finite and > 0, got " + std);
      }
    }
  }

  /** No augmentation, no normalisation. */
  public static AugmentConfig none() {
    return new AugmentConfig("none", 0, null, null, false, null, null);
  }

  /** Whether any transform (random or normalisation) applies. */
  public boolean active() {
    return !crop.equals("none") || flip || !mean.isEmpty();
  }

  /** Whether a random transform applies while training. */
  public boolean random() {
    return !crop.equals("none") || flip;
  }

  private static void range(String key, List<Double> values, double max) {
    if (values.size() != 2
        || values.get(0) == null
        || values.get(1) == null
        || !(values.get(0) > 0)
        || !(values.get(0) <= values.get(1))
        || !(values.get(1) <= max)) {
      throw new ConfigException(
          key
              + " must be [min, max] with 0 < min <= max"
              + (Double.isInfinite(max) ? "" : " <= " + max)
              + ", got "
              + values);
    }
  }
}
