package io.spindle.data;

import java.io.Serializable;

/**
 * Which logical shards each live worker trains on in a round. Every global batch is cut into {@code
 * shards} fixed shares ({@link BatchLayout}: shard {@code s} of a step of {@code b} examples holds
 * offsets {@code [floor(s b / L), floor((s + 1) b / L))}), whatever the number of workers; a round
 * with {@code workers} live workers gives worker {@code w} the consecutive shards {@code [floor(w L
 * / M), floor((w + 1) L / M))}, so workers hold {@code floor(L / M)} or {@code ceil(L / M)} shards
 * and each sums the gradients of its shards.
 *
 * @param shards L, logical shards per global batch
 * @param workers M, live workers of the round, {@code 1 <= M <= L}
 */
public record ShardAssignment(int shards, int workers) implements Serializable {
  public ShardAssignment {
    if (workers < 1 || shards < workers) {
      throw new IllegalArgumentException(
          "expected 1 <= workers <= shards, got " + workers + " workers and " + shards + " shards");
    }
  }

  /** One shard per worker. */
  public static ShardAssignment identity(int shards) {
    return new ShardAssignment(shards, shards);
  }

  /** The first shard of worker {@code worker}. */
  public int first(int worker) {
    return (int) ((long) worker * shards / workers);
  }

  /** One past the last shard of worker {@code worker}. */
  public int end(int worker) {
    return first(worker + 1);
  }

  /** Shards of worker {@code worker}. */
  public int count(int worker) {
    return end(worker) - first(worker);
  }

  /** The worker that trains on shard {@code shard}. */
  public int workerOf(int shard) {
    if (shard < 0 || shard >= shards) {
      throw new IllegalArgumentException("shard " + shard + " outside [0, " + shards + ")");
    }
    // the largest w with floor(w L / M) <= shard
    int w = (int) (((long) shard * workers) / shards);
    while (w + 1 < workers && first(w + 1) <= shard) {
      w++;
    }
    while (w > 0 && first(w) > shard) {
      w--;
    }
    return w;
  }

  /** True when every worker trains on exactly one shard. */
  public boolean isIdentity() {
    return shards == workers;
  }
}
