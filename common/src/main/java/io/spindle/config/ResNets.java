package io.spindle.config;

import java.util.ArrayList;
import java.util.List;

/**
 * The layers of the residual networks of He et al., "Deep Residual Learning for Image Recognition"
 * (CVPR 2016), as a graph of {@link LayerConfig}s.
 *
 * <p><b>CIFAR</b> ({@code resnet<6n+2>}, section 4.2): a 3x3 convolution of {@code w} filters, then
 * three stages of n basic blocks with {@code w}, {@code 2w}, {@code 4w} filters on maps of 32, 16
 * and 8 pixels (the first block of stages 2 and 3 has stride 2), global average pooling and a
 * softmax layer: 6n + 2 weighted layers. With w = 16: ResNet-20 has 0.27M trainable parameters,
 * ResNet-56 0.85M, as in the paper. Shortcuts are option A by default, as in the paper's CIFAR
 * experiments.
 *
 * <p><b>ImageNet</b> ({@code resnet18/34/50/101/152}, table 1): a 7x7 convolution of {@code w}
 * filters with stride 2 and a 3x3 max pool with stride 2, four stages with {@code w, 2w, 4w, 8w}
 * filters (basic blocks for 18 and 34; bottleneck blocks 1x1, 3x3, 1x1 with four times the width
 * out for 50 and deeper), global average pooling, softmax. The stride-2 convolution of a bottleneck
 * is its 3x3 one, as in Goyal et al. 2017 (footnote: "ResNet v1.5"). Shortcuts are option B by
 * default: a 1x1 convolution and batch norm where the shape changes.
 *
 * <p>Every convolution has no bias and is followed by batch normalisation; a block adds its branch
 * to its shortcut, then applies ReLU. Names: {@code stem_*}, {@code s<stage>b<block>_*} (from 1),
 * {@code pool}, {@code fc}.
 */
public final class ResNets {
  private ResNets() {}

  /** Whether {@code depth} names one of the ImageNet networks of table 1. */
  static boolean isImageNetDepth(int depth) {
    return depth == 18 || depth == 34 || depth == 50 || depth == 101 || depth == 152;
  }

  /** The layers of {@code preset}. */
  public static List<LayerConfig> layers(PresetConfig preset) {
    Builder b = new Builder(preset);
    int w = preset.width();
    if (preset.imageNet()) {
      b.convBn("stem", "", w, 7, 2, 3, false);
      b.add(LayerConfig.activation(Activation.RELU).named("stem_relu"));
      b.add(LayerConfig.pool(LayerType.MAX_POOL, 3, 2, 1).named("stem_pool"));
      b.channels = w;
      int depth = preset.depth();
      int[] blocks =
          switch (depth) {
            case 18 -> new int[] {2, 2, 2, 2};
            case 34, 50 -> new int[] {3, 4, 6, 3};
            case 101 -> new int[] {3, 4, 23, 3};
            case 152 -> new int[] {3, 8, 36, 3};
            default -> throw new IllegalStateException("depth " + depth);
          };
      boolean bottleneck = depth >= 50;
      for (int s = 0; s < 4; s++) {
        for (int k = 0; k < blocks[s]; k++) {
          int stride = s > 0 && k == 0 ? 2 : 1;
          String name = "s" + (s + 1) + "b" + (k + 1);
          if (bottleneck) {
            b.bottleneck(name, w << s, stride);
          } else {
            b.basic(name, w << s, stride);
          }
        }
      }
    } else {
      int n = (preset.depth() - 2) / 6;
      b.convBn("stem", "", w, 3, 1, 1, false);
      b.add(LayerConfig.activation(Activation.RELU).named("stem_relu"));
      b.channels = w;
      for (int s = 0; s < 3; s++) {
        for (int k = 0; k < n; k++) {
          b.basic("s" + (s + 1) + "b" + (k + 1), w << s, s > 0 && k == 0 ? 2 : 1);
        }
      }
    }
    b.add(LayerConfig.of(LayerType.GLOBAL_AVG_POOL).named("pool"));
    b.add(
        LayerConfig.output(preset.classes(), Activation.SOFTMAX, Loss.CROSS_ENTROPY)
            .withLabelSmoothing(preset.labelSmoothing())
            .named("fc"));
    return List.copyOf(b.layers);
  }

  private static final class Builder {
    final PresetConfig preset;
    final List<LayerConfig> layers = new ArrayList<>();
    int channels;

    Builder(PresetConfig preset) {
      this.preset = preset;
    }

    void add(LayerConfig l) {
      layers.add(l);
    }

    String last() {
      return layers.get(layers.size() - 1).name();
    }

    /** {@code <name>_conv<suffix>} and {@code <name>_bn<suffix>}, reading the previous layer. */
    void convBn(
        String name, String suffix, int filters, int kernel, int stride, int pad, boolean z) {
      add(
          LayerConfig.conv2d(filters, kernel, stride, pad, Activation.IDENTITY)
              .withoutBias()
              .named(name + "_conv" + suffix));
      LayerConfig bn = LayerConfig.of(LayerType.BATCH_NORM).named(name + "_bn" + suffix);
      add(z ? bn.withZeroGamma() : bn);
    }

    void basic(String name, int filters, int stride) {
      String in = last();
      boolean zero = preset.zeroGamma();
      convBn(name, "1", filters, 3, stride, 1, false);
      add(LayerConfig.activation(Activation.RELU).named(name + "_relu1"));
      convBn(name, "2", filters, 3, 1, 1, zero);
      finish(name, in, filters, stride);
    }

    void bottleneck(String name, int width, int stride) {
      String in = last();
      boolean zero = preset.zeroGamma();
      convBn(name, "1", width, 1, 1, 0, false);
      add(LayerConfig.activation(Activation.RELU).named(name + "_relu1"));
      convBn(name, "2", width, 3, stride, 1, false);
      add(LayerConfig.activation(Activation.RELU).named(name + "_relu2"));
      convBn(name, "3", 4 * width, 1, 1, 0, zero);
      finish(name, in, 4 * width, stride);
    }

    /** The shortcut from {@code in}, the sum with the branch just added, and the ReLU. */
    private void finish(String name, String in, int filters, int stride) {
      String branch = last();
      String shortcut = in;
      if (stride != 1 || channels != filters) {
        if (preset.shortcut().equals("a")) {
          add(LayerConfig.shortcut(filters, stride).named(name + "_short", in));
        } else {
          add(
              LayerConfig.conv2d(filters, 1, stride, 0, Activation.IDENTITY)
                  .withoutBias()
                  .named(name + "_proj", in));
          add(LayerConfig.of(LayerType.BATCH_NORM).named(name + "_proj_bn"));
        }
        shortcut = last();
      }
      add(LayerConfig.merge(LayerType.ADD, name + "_add", branch, shortcut));
      add(LayerConfig.activation(Activation.RELU).named(name + "_out"));
      channels = filters;
    }
  }
}
