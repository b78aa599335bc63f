package io.spindle.driver.data;

import io.spindle.data.MiniBatch;
import io.spindle.data.ShardAssignment;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * An epoch's logical shards grouped for fewer live workers than shards.
 *
 * <p>The epoch's batches ({@link DistributedDataset#epoch}) have one partition per logical shard:
 * partition {@code s} holds shard {@code s}'s batch of every step, so a round with as many workers
 * as shards runs on them directly. A barrier stage has one task per partition of its RDD and Spark
 * refuses a narrow re-grouping inside it, so a round with {@code M < L} workers needs an RDD of
 * {@code M} partitions: {@link #of} sends each shard's batches from step {@code fromStep} on to the
 * worker that trains on it ({@link ShardAssignment}), one Spark shuffle of the rest of the epoch,
 * sorted by (step, shard), so worker {@code w}'s partition holds step by step the batches of its
 * shards in shard order, as {@link io.spindle.worker.ShardCursor} reads them. The shards
 * themselves, their examples and their order do not change: only which task reads them.
 */
public final class WorkerShards {
  private WorkerShards() {}

  /**
   * The batches of {@code shards} (one partition per logical shard) from step {@code fromStep} on,
   * as {@code assignment.workers()} partitions, cached and materialised.
   */
  public static JavaRDD<MiniBatch> of(
      JavaRDD<MiniBatch> shards, ShardAssignment assignment, int fromStep) {
    if (shards.getNumPartitions() != assignment.shards()) {
      throw new IllegalArgumentException(
          "expected one partition per logical shard ("
              + assignment.shards()
              + "), got "
              + shards.getNumPartitions());
    }
    int l = assignment.shards();
    JavaPairRDD<Long, MiniBatch> keyed =
        JavaPairRDD.fromJavaRDD(
            shards.mapPartitionsWithIndex((shard, it) -> new Keyed(it, shard, l, fromStep), true));
    JavaRDD<MiniBatch> grouped =
        keyed
            .repartitionAndSortWithinPartitions(new ByWorker(assignment))
            .mapPartitionsWithIndex(
                (worker, it) -> new Checked(it, assignment, worker, fromStep), true)
            .setName("shards for " + assignment.workers() + " workers from step " + fromStep)
            .persist(StorageLevel.MEMORY_AND_DISK());
    grouped.count();
    return grouped;
  }

  /** A shard's batches from step {@code fromStep} on, keyed {@code step * L + shard}; lazy. */
  static final class Keyed implements Iterator<Tuple2<Long, MiniBatch>> {
    private final Iterator<MiniBatch> in;
    private final int shard;
    private final int shards;
    private final int fromStep;
    private MiniBatch next;

    Keyed(Iterator<MiniBatch> in, int shard, int shards, int fromStep) {
      this.in = in;
      this.shard = shard;
      this.shards = shards;
      this.fromStep = fromStep;
    }

    @Override
    public boolean hasNext() {
      while (next == null && in.hasNext()) {
        MiniBatch b = in.next();
        if (b.step() >= fromStep) {
          next = b;
        }
      }
      return next != null;
    }

    @Override
    public Tuple2<Long, MiniBatch> next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      MiniBatch b = next;
      next = null;
      return new Tuple2<>((long) b.step() * shards + shard, b);
    }
  }

  /** Sends a (step, shard) key to the worker that trains on the shard. */
  static final class ByWorker extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final ShardAssignment assignment;

    ByWorker(ShardAssignment assignment) {
      this.assignment = assignment;
    }

    @Override
    public int numPartitions() {
      return assignment.workers();
    }

    @Override
    public int getPartition(Object key) {
      return assignment.workerOf((int) ((Long) key % assignment.shards()));
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof ByWorker b && b.assignment.equals(assignment);
    }

    @Override
    public int hashCode() {
      return assignment.hashCode();
    }
  }

  /**
   * A worker's sorted (step, shard) records as batches, checking that each is the next one due:
   * every step from the first on, each of the worker's shards once, in order.
   */
  static final class Checked implements Iterator<MiniBatch> {
    private final Iterator<Tuple2<Long, MiniBatch>> in;
    private final int shards;
    private final int first;
    private final int end;
    private final int worker;
    private int step;
    private int shard;

    Checked(
        Iterator<Tuple2<Long, MiniBatch>> in,
        ShardAssignment assignment,
        int worker,
        int fromStep) {
      this.in = in;
      this.shards = assignment.shards();
      this.first = assignment.first(worker);
      this.end = assignment.end(worker);
      this.worker = worker;
      this.step = fromStep;
      this.shard = first;
    }

    @Override
    public boolean hasNext() {
      boolean more = in.hasNext();
      if (!more && shard != first) {
        throw new IllegalStateException(
            "worker "
                + worker
                + " has the batches of step "
                + step
                + " only up to shard "
                + (shard - 1)
                + " of its shards ["
                + first
                + ", "
                + end
                + ")");
      }
      return more;
    }

    @Override
    public MiniBatch next() {
      if (!in.hasNext()) {
        throw new NoSuchElementException();
      }
      Tuple2<Long, MiniBatch> r = in.next();
      long expected = (long) step * shards + shard;
      if (r._1() != expected || r._2().step() != step) {
        throw new IllegalStateException(
            "worker "
                + worker
                + " expected the batch of shard "
                + shard
                + " of step "
                + step
                + ", found shard "
                + (r._1() % shards)
                + " of step "
                + r._2().step());
      }
      if (++shard == end) {
        shard = first;
        step++;
      }
      return r._2();
    }
  }
}
