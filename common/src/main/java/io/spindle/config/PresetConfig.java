package io.spindle.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A named network ({@code model.preset}) that stands for its whole list of layers; see {@link
 * ResNets} for the architectures. Missing values take the preset's defaults, resolved here so the
 * written config states them.
 *
 * @param name {@code resnet18}, {@code resnet34}, {@code resnet50}, {@code resnet101}, {@code
 *     resnet152} (ImageNet, He et al. 2016 table 1), or {@code resnet<6n+2>} such as {@code
 *     resnet20}, {@code resnet32}, {@code resnet44}, {@code resnet56}, {@code resnet110} (CIFAR, He
 *     et al. 2016 section 4.2); a depth in both families (50, 152) is the ImageNet network
 * @param width filters of the first stage (0 = 16 for CIFAR networks, 64 for ImageNet ones); each
 *     later stage doubles it
 * @param classes units of the output layer (0 = 10 for CIFAR networks, 1000 for ImageNet ones)
 * @param shortcut {@code a} (identity; where the shape changes, every second pixel with zero-padded
 *     channels: no parameters) or {@code b} (identity; a 1x1 convolution with batch norm where the
 *     shape changes); empty = a for CIFAR networks (as in the paper), b for ImageNet ones
 * @param zeroGamma start the last batch norm's scale in every residual branch at 0 (Goyal et al.
 *     2017), so every block starts as the identity
 * @param labelSmoothing label smoothing of the output layer (see {@link LayerConfig}; 0 = off)
 */
public record PresetConfig(
    String name, int width, int classes, String shortcut, boolean zeroGamma, double labelSmoothing)
    implements java.io.Serializable {
  private static final Pattern RESNET = Pattern.compile("resnet([0-9]{1,4})");

  public PresetConfig {
    Check.notNull("name", name);
    name = name.trim().toLowerCase(Locale.ROOT);
    int depth = depthOf(name);
    boolean imageNet = ResNets.isImageNetDepth(depth);
    Check.nonNegative("width", width);
    Check.nonNegative("classes", classes);
    width = width == 0 ? (imageNet ? 64 : 16) : width;
    classes = classes == 0 ? (imageNet ? 1000 : 10) : classes;
    shortcut =
        shortcut == null || shortcut.isBlank()
            ? (imageNet ? "b" : "a")
            : shortcut.trim().toLowerCase(Locale.ROOT);
    if (!shortcut.equals("a") && !shortcut.equals("b")) {
      throw new ConfigException("shortcut must be a or b, got '" + shortcut + "'");
    }
    Check.inRange("labelSmoothing", labelSmoothing, 0.0, 1.0);
  }

  /** A preset without label smoothing. */
  public PresetConfig(String name, int width, int classes, String shortcut, boolean zeroGamma) {
    this(name, width, classes, shortcut, zeroGamma, 0.0);
  }

  /** A preset with its defaults. */
  public static PresetConfig of(String name) {
    return new PresetConfig(name, 0, 0, "", false);
  }

  /** The network's depth (the number in its name). */
  public int depth() {
    return depthOf(name);
  }

  /** Whether this is an ImageNet network (bottleneck or basic, 4 stages, 7x7 stem). */
  public boolean imageNet() {
    return ResNets.isImageNetDepth(depth());
  }

  private static int depthOf(String name) {
    Matcher m = RESNET.matcher(name);
    int depth = m.matches() ? Integer.parseInt(m.group(1)) : -1;
    if (depth < 0 || !(ResNets.isImageNetDepth(depth) || (depth - 2) % 6 == 0 && depth >= 8)) {
      throw new ConfigException(
          "name must be resnet18, resnet34, resnet50, resnet101, resnet152 (ImageNet) or"
              + " resnet<6n+2> such as resnet20, resnet32, resnet44, resnet56, resnet110 (CIFAR),"
              + " got '"
              + name
              + "'");
    }
    return depth;
  }
}
