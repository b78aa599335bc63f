package io.spindle.config;

import java.io.Serializable;
import java.util.Locale;

/**
 * The gradient exchange of the collective engine, as the workers need it: the scheme and its one
 * parameter ({@code cluster.compression}, {@code cluster.powersgdRank}, {@code
 * cluster.topkFraction}).
 *
 * @param scheme how gradients travel
 * @param rank PowerSGD's rank r (used by {@code powersgd} only)
 * @param fraction top-k's share of entries sent (used by {@code topk} only)
 */
public record CompressionSpec(Compression scheme, int rank, double fraction)
    implements Serializable {
  /** Exact fp32 gradients, no state. */
  public static final CompressionSpec NONE =
      new CompressionSpec(
          Compression.NONE,
          ClusterConfig.DEFAULT_POWERSGD_RANK,
          ClusterConfig.DEFAULT_TOPK_FRACTION);

  public CompressionSpec {
    Check.notNull("compression", scheme);
    if (rank < 1) {
      throw new ConfigException("powersgdRank must be >= 1, got " + rank);
    }
    if (!(fraction > 0 && fraction <= 1)) {
      throw new ConfigException("topkFraction must be in (0, 1], got " + fraction);
    }
  }

  /** The scheme with the defaults of the other keys. */
  public static CompressionSpec of(Compression scheme) {
    return new CompressionSpec(
        scheme, ClusterConfig.DEFAULT_POWERSGD_RANK, ClusterConfig.DEFAULT_TOPK_FRACTION);
  }

  /**
   * Reads {@code none}, {@code bf16}, {@code powersgd[:RANK]} or {@code topk[:FRACTION]} (the form
   * {@link #toString} writes and the scaling model and benchmarks take).
   */
  public static CompressionSpec parse(String text) {
    String[] p = text.trim().toLowerCase(Locale.ROOT).split(":", 2);
    try {
      return switch (p[0]) {
        case "none" -> NONE;
        case "bf16" -> of(Compression.BF16);
        case "powersgd" ->
            new CompressionSpec(
                Compression.POWERSGD,
                p.length > 1 ? Integer.parseInt(p[1]) : ClusterConfig.DEFAULT_POWERSGD_RANK,
                ClusterConfig.DEFAULT_TOPK_FRACTION);
        case "topk" ->
            new CompressionSpec(
                Compression.TOPK,
                ClusterConfig.DEFAULT_POWERSGD_RANK,
                p.length > 1 ? Double.parseDouble(p[1]) : ClusterConfig.DEFAULT_TOPK_FRACTION);
        default -> throw new NumberFormatException();
      };
    } catch (NumberFormatException e) {
      throw new ConfigException(
          "expected a compression none, bf16, powersgd[:RANK] or topk[:FRACTION], got '"
              + text
              + "'");
    }
  }

  /** {@code none}, {@code bf16}, {@code powersgd:R} or {@code topk:F}. */
  @Override
  public String toString() {
    return switch (scheme) {
      case NONE -> "none";
      case BF16 -> "bf16";
      case POWERSGD -> "powersgd:" + rank;
      case TOPK -> "topk:" + fraction;
    };
  }
}
