package io.spindle.driver.data;

import io.spindle.data.EpochPlan;
import io.spindle.data.Example;
import io.spindle.data.MiniBatch;
import io.spindle.worker.MnistPartitionReader;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * A labelled data set held in Spark: read on the executors, cached there, never collected to the
 * driver.
 *
 * <p>Each epoch the training examples are shuffled globally: every example goes to the position
 * {@link EpochPlan} gives it for (seed, epoch), is sent to the worker whose share of that step
 * holds the position, and each worker's partition becomes its step-ordered list of mini-batches,
 * one per global step (possibly empty). Partition {@code w} of an epoch is worker {@code w}'s data.
 */
public final class DistributedDataset implements AutoCloseable {
  private final JavaSparkContext sc;
  private final JavaRDD<Example> train;
  private final JavaRDD<MiniBatch> test;
  private final int numTrain;
  private final int numTest;
  private final int numFeatures;
  private final int numClasses;
  private final int batchSize;
  private final int workers;
  private final long seed;
  private final int prefetch;
  private final long skipped;
  private JavaRDD<MiniBatch> current;

  private DistributedDataset(
      JavaSparkContext sc,
      JavaRDD<Example> train,
      JavaRDD<MiniBatch> test,
      int numClasses,
      int batchSize,
      int workers,
      long seed,
      int prefetch,
      long skipped) {
    this.sc = sc;
    this.prefetch = prefetch;
    this.skipped = skipped;
    this.train = train;
    this.test = test;
    this.numClasses = numClasses;
    this.workers = workers;
    this.seed = seed;
    this.numTrain = (int) train.count();
    this.batchSize = batchSize == 0 ? numTrain : batchSize; // 0: full-batch gradient descent
    this.numTest = test.map(MiniBatch::size).fold(0, Integer::sum);
    List<Example> first = train.take(1);
    if (numTrain == 0 || first.isEmpty()) {
      throw new IllegalArgumentException("the training set is empty");
    }
    this.numFeatures = first.get(0).numFeatures();
  }

  /**
   * An IDX data set (MNIST layout) read on the executors from Hadoop URIs.
   *
   * @param limit use only examples with index below this (0 = all)
   */
  public static DistributedDataset idx(
      JavaSparkContext sc,
      String trainImages,
      String trainLabels,
      String testImages,
      String testLabels,
      int numClasses,
      int limit,
      int batchSize,
      int workers,
      long seed) {
    JavaRDD<Example> train =
        readIdx(sc, trainImages, trainLabels, numClasses, limit, workers)
            .setName("train examples")
            .persist(StorageLevel.MEMORY_ONLY());
    int evalBatch = 1000;
    JavaRDD<MiniBatch> test =
        readIdx(sc, testImages, testLabels, numClasses, 0, workers)
            .mapPartitions(it -> chunk(it, evalBatch))
            .setName("test batches")
            .persist(StorageLevel.MEMORY_ONLY());
    return new DistributedDataset(sc, train, test, numClasses, batchSize, workers, seed, 0, 0);
  }

  /**
   * A data set from examples already read on the executors (see {@link DatasetLoader}). The
   * training examples must be indexed densely {@code 0..n-1}; they are kept in Spark's cache
   * serialised, spilling to disk ({@code MEMORY_AND_DISK_SER}), so a set larger than the executors'
   * memory still trains.
   *
   * @param prefetch mini-batches each worker prepares ahead of compute (0 = none)
   * @param skipped bad records dropped while reading, reported in the summary
   */
  public static DistributedDataset of(
      JavaSparkContext sc,
      JavaRDD<Example> train,
      JavaRDD<Example> test,
      int numClasses,
      int batchSize,
      int workers,
      long seed,
      int prefetch,
      long skipped) {
    int evalBatch = 1000;
    JavaRDD<Example> cachedTrain =
        train.setName("train examples").persist(StorageLevel.MEMORY_AND_DISK_SER());
    JavaRDD<MiniBatch> testBatches =
        test.mapPartitions(it -> chunk(it, evalBatch))
            .setName("test batches")
            .persist(StorageLevel.MEMORY_AND_DISK_SER());
    return new DistributedDataset(
        sc, cachedTrain, testBatches, numClasses, batchSize, workers, seed, prefetch, skipped);
  }

  /** Bad records dropped while reading (0 unless data.skipBadRecords). */
  public long skippedRecords() {
    return skipped;
  }

  private static JavaRDD<Example> readIdx(
      JavaSparkContext sc,
      String images,
      String labels,
      int numClasses,
      int limit,
      int partitions) {
    List<Integer> parts = IntStream.range(0, partitions).boxed().toList();
    return sc.parallelize(parts, partitions)
        .flatMap(
            p -> {
              List<Example> all =
                  MnistPartitionReader.read(images, labels, numClasses, 0, Integer.MAX_VALUE);
              List<Example> mine = new ArrayList<>(all.size() / partitions + 1);
              for (Example e : all) {
                if (e.index() % partitions == p && (limit == 0 || e.index() < limit)) {
                  mine.add(e);
                }
              }
              return mine.iterator();
            });
  }

  private static Iterator<MiniBatch> chunk(Iterator<Example> it, int size) {
    List<MiniBatch> out = new ArrayList<>();
    List<Example> buf = new ArrayList<>(size);
    int numFeatures = -1;
    while (it.hasNext()) {
      Example e = it.next();
      numFeatures = e.numFeatures();
      buf.add(e);
      if (buf.size() == size) {
        out.add(MiniBatch.of(-1, numFeatures, buf));
        buf.clear();
      }
    }
    if (!buf.isEmpty()) {
      out.add(MiniBatch.of(-1, numFeatures, buf));
    }
    return out.iterator();
  }

  /**
   * The mini-batches of {@code epoch}: {@code workers} partitions, each holding one batch per
   * global step in step order. Cached and materialised; the previous epoch's batches are dropped.
   */
  public JavaRDD<MiniBatch> epoch(int epoch) {
    int n = numTrain;
    int b = batchSize;
    int w = workers;
    long s = seed;
    int d = numFeatures;
    int steps = stepsPerEpoch();
    JavaPairRDD<Integer, Example> byPosition =
        train.mapPartitionsToPair(
            it -> {
              EpochPlan plan = new EpochPlan(n, b, w, s, epoch);
              // lazily: a partition never sits in memory whole (the shuffle writer spills)
              return withPositions(it, plan, n);
            });
    JavaRDD<MiniBatch> batches =
        byPosition
            .repartitionAndSortWithinPartitions(new WorkerPartitioner(n, b, w))
            .mapPartitions(it -> toBatches(it, b, d, steps), true)
            .setName("epoch " + epoch + " batches")
            // deserialised, so a step's task reaches its batch without deserialising the ones
            // before it; spills to disk when the executor's memory is short
            .persist(StorageLevel.MEMORY_AND_DISK());
    // Label the shuffle job, then give the caller's description (epoch and step) back.
    String description = sc.getLocalProperty("spark.job.description");
    sc.setJobDescription("spindle epoch " + (epoch + 1) + ": shuffle training data");
    batches.count();
    sc.setJobDescription(description);
    if (current != null) {
      current.unpersist(false);
    }
    current = batches;
    int ahead = prefetch;
    if (ahead == 0) {
      return batches;
    }
    return batches.mapPartitions(
        it -> {
          var p = new io.spindle.worker.PrefetchIterator<>(it, ahead, "spindle-prefetch");
          org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
          if (task != null) {
            task.addTaskCompletionListener(
                (org.apache.spark.util.TaskCompletionListener) ctx -> p.close());
          }
          return p;
        },
        true);
  }

  private static Iterator<Tuple2<Integer, Example>> withPositions(
      Iterator<Example> it, EpochPlan plan, int n) {
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public Tuple2<Integer, Example> next() {
        Example e = it.next();
        return new Tuple2<>(plan.positionOf(denseIndex(e.index(), n)), e);
      }
    };
  }

  private static int denseIndex(int index, int n) {
    if (index < 0 || index >= n) {
      throw new IllegalStateException(
          "example index "
              + index
              + " outside [0, "
              + n
              + "); the training set must be indexed 0..n-1");
    }
    return index;
  }

  /**
   * Groups a worker's position-sorted examples into one batch per global step, lazily (one batch in
   * memory at a time before Spark's block store takes it).
   */
  private static Iterator<MiniBatch> toBatches(
      Iterator<Tuple2<Integer, Example>> it, int batchSize, int numFeatures, int steps) {
    return new Iterator<MiniBatch>() {
      private int step = 0;
      private Tuple2<Integer, Example> pending;

      @Override
      public boolean hasNext() {
        return step < steps;
      }

      @Override
      public MiniBatch next() {
        if (step >= steps) {
          throw new java.util.NoSuchElementException();
        }
        List<Example> buf = new ArrayList<>();
        while (true) {
          if (pending == null && it.hasNext()) {
            pending = it.next();
          }
          if (pending == null || pending._1() / batchSize != step) {
            break;
          }
          buf.add(pending._2());
          pending = null;
        }
        return MiniBatch.of(step++, numFeatures, buf);
      }
    };
  }

  /** The training examples (cached on the executors), in no particular order. */
  public JavaRDD<Example> trainExamples() {
    return train;
  }

  public JavaRDD<MiniBatch> test() {
    return test;
  }

  public int numTrain() {
    return numTrain;
  }

  public int numTest() {
    return numTest;
  }

  public int numFeatures() {
    return numFeatures;
  }

  public int numClasses() {
    return numClasses;
  }

  public int workers() {
    return workers;
  }

  /** The global batch: the configured one, or the whole training set for {@code batchSize: 0}. */
  public int batchSize() {
    return batchSize;
  }

  public int stepsPerEpoch() {
    return (numTrain + batchSize - 1) / batchSize;
  }

  @Override
  public void close() {
    if (current != null) {
      current.unpersist(false);
    }
    train.unpersist(false);
    test.unpersist(false);
  }
}
