package io.spindle.bench;

import io.spindle.config.LayerConfig;

/** Names of the profile's rows, shared by the Java and the PyTorch side. */
public final class ProfileRows {
  private ProfileRows() {}

  /** {@code "L<i> <type> <settings>"}, e.g. {@code L1 dense 800 relu p=0.2}. */
  public static String layerName(int index, LayerConfig l) {
    StringBuilder s =
        new StringBuilder("L").append(index).append(' ').append(l.type().configName());
    switch (l.type()) {
      case DENSE, OUTPUT -> s.append(' ').append(l.units());
      case CONV2D ->
          s.append(' ')
              .append(l.kernel())
              .append('x')
              .append(l.kernel())
              .append('x')
              .append(l.filters());
      case MAX_POOL, AVG_POOL -> s.append(' ').append(l.kernel());
      default -> {}
    }
    if (l.activation() != null) {
      s.append(' ').append(l.activation().configName());
    }
    if (l.dropout() > 0) {
      s.append(" p=").append(l.dropout());
    }
    return s.toString();
  }
}
