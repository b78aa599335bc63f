package io.spindle.model.fast;

/**
 * A counter-based {@link KeyedRandom}: SplitMix64's finaliser (Steele, Lea and Flood 2014) applied
 * to a key folded from the seed, step, example, stream and counter, each mixed in with its own odd
 * multiplier and a finaliser round, so neighbouring keys give unrelated bits. Two rounds per draw:
 * {@link #base} once per (step, example, stream), {@link #next} once per counter.
 */
public final class SplitMixKeyedRandom implements KeyedRandom {
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;
  private final long seed;

  public SplitMixKeyedRandom(long seed) {
    this.seed = seed;
  }

  public long seed() {
    return seed;
  }

  @Override
  public long base(long step, long example, int stream) {
    long z = mix(seed ^ 0x5DEECE66DL);
    z = mix(z + GOLDEN * (step + 1));
    z = mix(z + 0xD1B54A32D192ED03L * (example + 1));
    return mix(z + 0x8CB92BA72F3D8DD7L * (stream + 1));
  }

  @Override
  public long next(long base, long counter) {
    return mix(base + GOLDEN * (counter + 1));
  }

  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
