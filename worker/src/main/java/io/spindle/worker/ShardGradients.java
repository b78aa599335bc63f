package io.spindle.worker;

import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.tensor.FlatVector;
import java.util.Arrays;
import java.util.List;

/**
 * The gradient of one worker's part of a global step: the sum, over its consecutive logical shards
 * {@code firstShard, firstShard + 1, ...}, of each shard's gradient summed over its examples. Each
 * shard is its own forward and backward pass with its own step key ({@link PartitionTrainer#key}:
 * the shard's first example in the global batch), so a shard's gradient, its dropout masks and its
 * batch-norm statistics are the same whichever worker computes it and however many shards that
 * worker has. {@link #compute} sums a worker's shards, so the order of the float additions depends
 * on the workers; {@link #computeEach} keeps them apart for a ring that adds them in an order fixed
 * by the shard count ({@code io.spindle.worker.collective.ShardRing}).
 */
public final class ShardGradients {
  private float[] scratch; // for a worker's second and later shards

  private double lossSum;
  private long examples;
  private long correct;

  public ShardGradients() {}

  /**
   * Leaves the sum of the gradients of {@code batches} (the shards {@code firstShard...} of step
   * {@code step}, global step {@code iteration}) in {@code gradient}, zero when all are empty, and
   * returns null; except that when exactly one batch is not empty (a worker with one shard, the
   * usual case) and its gradient is one dense float32 vector, that gradient stays where the
   * backward pass wrote it and this returns its native memory ({@link FlatVector#nativeView}, valid
   * until the network's next pass), leaving {@code gradient} as it was: the ring reads it from
   * there. Adds the batches' summed loss, examples and correct counts to this object's totals.
   */
  public java.nio.FloatBuffer compute(
      TrainableNetwork net,
      ModelSpec spec,
      BatchLayout layout,
      int firstShard,
      int step,
      long iteration,
      List<MiniBatch> batches,
      float[] gradient) {
    boolean any = false;
    for (int i = 0; i < batches.size(); i++) {
      MiniBatch batch = batches.get(i);
      if (batch.isEmpty()) {
        continue;
      }
      double meanLoss =
          net.computeGradient(
              batch, PartitionTrainer.key(spec, layout, firstShard + i, step, iteration));
      lossSum += meanLoss * batch.size();
      examples += batch.size();
      correct += net.correctOfLastForward();
      if (!any) {
        if (single(batches, i)) {
          java.nio.FloatBuffer view = FlatVector.nativeView(net.gradient());
          if (view != null) {
            return view;
          }
        }
        FlatVector.copyOut(net.gradient(), gradient, 0);
        any = true;
      } else {
        if (scratch == null) {
          scratch = new float[gradient.length];
        }
        FlatVector.copyOut(net.gradient(), scratch, 0);
        for (int j = 0; j < gradient.length; j++) {
          gradient[j] += scratch[j];
        }
      }
    }
    if (!any) {
      Arrays.fill(gradient, 0f);
    }
    return null;
  }

  /** Whether every batch after {@code i} is empty. */
  private static boolean single(List<MiniBatch> batches, int i) {
    for (int j = i + 1; j < batches.size(); j++) {
      if (!batches.get(j).isEmpty()) {
        return false;
      }
    }
    return true;
  }

  /**
   * Leaves in {@code each[i]} the gradient of {@code batches.get(i)} (shard {@code firstShard + i}
   * of step {@code step}), zero for an empty one, for a ring that adds the shards up itself ({@code
   * io.spindle.worker.collective.ShardRing}); adds their totals to this object's as {@link
   * #compute} does.
   */
  public void computeEach(
      TrainableNetwork net,
      ModelSpec spec,
      BatchLayout layout,
      int firstShard,
      int step,
      long iteration,
      List<MiniBatch> batches,
      float[][] each) {
    for (int i = 0; i < batches.size(); i++) {
      MiniBatch batch = batches.get(i);
      if (batch.isEmpty()) {
        Arrays.fill(each[i], 0f);
        continue;
      }
      double meanLoss =
          net.computeGradient(
              batch, PartitionTrainer.key(spec, layout, firstShard + i, step, iteration));
      lossSum += meanLoss * batch.size();
      examples += batch.size();
      correct += net.correctOfLastForward();
      FlatVector.copyOut(net.gradient(), each[i], 0);
    }
  }

  /** Summed loss (mean loss times examples) of every batch so far. */
  public double lossSum() {
    return lossSum;
  }

  public long examples() {
    return examples;
  }

  public long correct() {
    return correct;
  }
}
