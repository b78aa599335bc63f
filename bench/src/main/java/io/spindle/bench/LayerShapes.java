package io.spindle.bench;

import io.spindle.config.ConfigException;
import io.spindle.config.InputConfig;
import io.spindle.config.InputKind;
import io.spindle.config.LayerConfig;
import io.spindle.config.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * The shape of every layer's input and output for one example, and its multiply-adds, computed from
 * the model config alone (DL4J's rules: a convolution or pooling window of side k, stride s and
 * padding p maps a side of n pixels to {@code (n + 2p - k) / s + 1}, rounded down). Image shapes
 * are {@code {channels, height, width}}, flat ones {@code {features}}.
 */
public final class LayerShapes {
  /**
   * One layer.
   *
   * @param layer its config
   * @param in the shape it reads
   * @param out the shape it writes
   * @param multiplyAdds multiply-adds of its forward pass per example (dense and convolution
   *     layers; 0 for the others)
   * @param parameters its entries in the flat parameter vector (weights and biases; batch norm:
   *     scale, shift and the running mean and variance)
   */
  public record Shape(LayerConfig layer, int[] in, int[] out, long multiplyAdds, long parameters) {
    public long inSize() {
      return size(in);
    }

    public long outSize() {
      return size(out);
    }
  }

  private LayerShapes() {}

  /** Shapes of {@code model}'s layers for inputs of {@code numInputs} features. */
  public static List<Shape> of(ModelConfig model, int numInputs) {
    InputConfig input = model.inputFor(numInputs);
    int[] shape =
        input.type() == InputKind.IMAGE
            ? new int[] {input.channels(), input.height(), input.width()}
            : new int[] {numInputs};
    List<Shape> out = new ArrayList<>();
    for (LayerConfig l : model.layers()) {
      int[] in = shape;
      long macs = 0;
      long params = 0;
      switch (l.type()) {
        case DENSE, OUTPUT -> {
          long fanIn = size(in);
          shape = new int[] {l.units()};
          macs = fanIn * l.units();
          params = macs + l.units();
        }
        case CONV2D -> {
          requireImage(l, in);
          int h = side(in[1], l), w = side(in[2], l);
          shape = new int[] {l.filters(), h, w};
          long perOutput = (long) l.kernel() * l.kernel() * in[0];
          macs = perOutput * l.filters() * h * w;
          params = perOutput * l.filters() + l.filters();
        }
        case MAX_POOL, AVG_POOL -> {
          requireImage(l, in);
          shape = new int[] {in[0], side(in[1], l), side(in[2], l)};
        }
          // scale, shift, running mean and running variance per channel: DL4J keeps all four in the
          // flat parameter vector, which the ring sends
        case BATCH_NORM -> params = 4L * in[0];
        case DROPOUT -> {
          // same shape
        }
        default ->
            throw new ConfigException(
                "the bench counts the shapes of dense, output, conv2d, max_pool, avg_pool,"
                    + " batch_norm and dropout layers, got a "
                    + l.type().configName()
                    + " layer");
      }
      out.add(new Shape(l, in, shape, macs, params));
    }
    return out;
  }

  /** Multiply-adds of one example's forward pass over all layers. */
  public static long multiplyAdds(ModelConfig model, int numInputs) {
    return of(model, numInputs).stream().mapToLong(Shape::multiplyAdds).sum();
  }

  private static int side(int n, LayerConfig l) {
    int s = (n + 2 * l.padding() - l.kernel()) / l.stride() + 1;
    if (s <= 0) {
      throw new ConfigException(
          "a "
              + l.type().configName()
              + " layer with kernel "
              + l.kernel()
              + " does not fit an input side of "
              + n);
    }
    return s;
  }

  private static void requireImage(LayerConfig l, int[] in) {
    if (in.length != 3) {
      throw new ConfigException(
          "a " + l.type().configName() + " layer needs an image input, got " + in.length + "-D");
    }
  }

  static long size(int[] shape) {
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }
}
