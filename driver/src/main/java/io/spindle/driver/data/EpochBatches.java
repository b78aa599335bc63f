package io.spindle.driver.data;

import io.spindle.data.ExampleBlock;
import io.spindle.data.MiniBatch;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import scala.Tuple2;

/**
 * The reduce side of an epoch's shuffle: one worker's chunks, sorted by key ({@code worker * groups
 * + group}), become the worker's mini-batches, one per global step in step order (empty where the
 * worker has no share of a step). Batches of encoded data sets (8-bit pixels) stay encoded, a
 * quarter of the memory of floats; they are decoded when a step builds its arrays. Each group of
 * steps is assembled whole, every row placed at the offset its epoch position gives it inside the
 * worker's share of its step; a row outside the worker's shares, a row placed twice or a missing
 * row is an error.
 */
final class EpochBatches implements Iterator<MiniBatch> {
  private final Iterator<Tuple2<Integer, ExampleBlock>> chunks;
  private final int numExamples;
  private final int batchSize;
  private final int workers;
  private final int worker;
  private final int stepsPerGroup;
  private final int steps;
  private final int groups;
  private final int[] shape;
  private final int numFeatures;
  private final boolean regression;
  private final boolean encoded;
  private final ArrayDeque<MiniBatch> ready = new ArrayDeque<>();
  private Tuple2<Integer, ExampleBlock> pending;
  private int group;

  EpochBatches(
      Iterator<Tuple2<Integer, ExampleBlock>> chunks,
      int numExamples,
      int batchSize,
      int workers,
      int worker,
      int stepsPerGroup,
      int[] shape,
      boolean regression,
      boolean encoded) {
    this.chunks = chunks;
    this.numExamples = numExamples;
    this.batchSize = batchSize;
    this.workers = workers;
    this.worker = worker;
    this.stepsPerGroup = stepsPerGroup;
    this.steps = (numExamples + batchSize - 1) / batchSize;
    this.groups = (steps + stepsPerGroup - 1) / stepsPerGroup;
    this.shape = shape.clone();
    this.numFeatures = shape[0] * shape[1] * shape[2];
    this.regression = regression;
    this.encoded = encoded;
  }

  @Override
  public boolean hasNext() {
    return !ready.isEmpty() || group < groups;
  }

  @Override
  public MiniBatch next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    if (ready.isEmpty()) {
      assemble(group++);
    }
    return ready.poll();
  }

  private int stepSize(int step) {
    return Math.min(batchSize, numExamples - step * batchSize);
  }

  private int shareStart(int step) {
    return (int) ((long) worker * stepSize(step) / workers);
  }

  private int shareSize(int step) {
    return (int) ((long) (worker + 1) * stepSize(step) / workers) - shareStart(step);
  }

  private void assemble(int g) {
    int first = g * stepsPerGroup;
    int last = Math.min(steps, first + stepsPerGroup);
    int count = last - first;
    float[][] x = new float[count][];
    byte[][] px = new byte[count][];
    int[][] y = new int[count][];
    float[][] t = new float[count][];
    boolean[][] filled = new boolean[count][];
    for (int i = 0; i < count; i++) {
      int size = shareSize(first + i);
      if (encoded) {
        px[i] = new byte[size * numFeatures];
      } else {
        x[i] = new float[size * numFeatures];
      }
      y[i] = new int[size];
      t[i] = regression ? new float[size] : null;
      filled[i] = new boolean[size];
    }
    int key = worker * groups + g;
    while (true) {
      if (pending == null && chunks.hasNext()) {
        pending = chunks.next();
      }
      if (pending == null || pending._1() != key) {
        break;
      }
      ExampleBlock chunk = pending._2();
      pending = null;
      if (chunk.numFeatures() != numFeatures || (chunk.bytesPerFeature() == 1) != encoded) {
        throw new IllegalStateException(
            "epoch chunk has "
                + chunk.numFeatures()
                + " features per example of "
                + chunk.bytesPerFeature()
                + " byte(s), expected "
                + numFeatures
                + (encoded ? " encoded pixels" : " floats"));
      }
      for (int r = 0; r < chunk.size(); r++) {
        int position = chunk.id(r);
        int step = position / batchSize;
        int i = step - first;
        int at = position - step * batchSize - (i >= 0 && i < count ? shareStart(step) : 0);
        if (i < 0 || i >= count || at < 0 || at >= filled[i].length || filled[i][at]) {
          throw new IllegalStateException(
              "epoch position "
                  + position
                  + " does not belong to an open slot of worker "
                  + worker
                  + " in steps ["
                  + first
                  + ", "
                  + last
                  + ")");
        }
        filled[i][at] = true;
        if (encoded) {
          chunk.copyPixels(r, px[i], at * numFeatures);
          y[i][at] = chunk.label(r);
        } else {
          chunk.copyRow(r, x[i], at * numFeatures, y[i], t[i], at);
        }
      }
    }
    if (pending != null && (pending._1() < key || g == groups - 1)) {
      throw new IllegalStateException(
          "epoch chunk with key "
              + pending._1()
              + " does not belong to worker "
              + worker
              + " after group "
              + g);
    }
    for (int i = 0; i < count; i++) {
      for (int at = 0; at < filled[i].length; at++) {
        if (!filled[i][at]) {
          throw new IllegalStateException(
              "worker "
                  + worker
                  + " is missing the example at offset "
                  + at
                  + " of its share of step "
                  + (first + i));
        }
      }
      ready.add(
          encoded
              ? MiniBatch.ofPixels(first + i, y[i].length, numFeatures, px[i], y[i], shape)
              : new MiniBatch(first + i, y[i].length, numFeatures, x[i], y[i], t[i], shape));
    }
  }
}
