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
  private JavaRDD<MiniBatch> current;

  private DistributedDataset(
      JavaSparkContext sc,
      JavaRDD<Example> train,
      JavaRDD<MiniBatch> test,
      int numClasses,
      int batchSize,
      int workers,
      long seed) {
    this.sc = sc;
    this.train = train;
    this.test = test;
    this.numClasses = numClasses;
    this.batchSize = batchSize;
    this.workers = workers;
    this.seed = seed;
    this.numTrain = (int) train.count();
    this.numTest = test.map(MiniBatch::size).fold(0, Integer::sum);
    List<Example> first = train.take(1);
    if (numTrain == 0 || first.isEmpty()) {
      throw new IllegalArgumentException("the training set is empty");
    }
    this.numFeatures = first.get(0).features().length;
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
    return new DistributedDataset(sc, train, test, numClasses, batchSize, workers, seed);
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
      numFeatures = e.features().length;
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
              List<Tuple2<Integer, Example>> out = new ArrayList<>();
              while (it.hasNext()) {
                Example e = it.next();
                out.add(new Tuple2<>(plan.positionOf(denseIndex(e.index(), n)), e));
              }
              return out.iterator();
            });
    JavaRDD<MiniBatch> batches =
        byPosition
            .repartitionAndSortWithinPartitions(new WorkerPartitioner(n, b, w))
            .mapPartitions(it -> toBatches(it, b, d, steps), true)
            .setName("epoch " + epoch + " batches")
            .persist(StorageLevel.MEMORY_ONLY());
    // Label the shuffle job, then give the caller's description (epoch and step) back.
    String description = sc.getLocalProperty("spark.job.description");
    sc.setJobDescription("spindle epoch " + (epoch + 1) + ": shuffle training data");
    batches.count();
    sc.setJobDescription(description);
    if (current != null) {
      current.unpersist(false);
    }
    current = batches;
    return batches;
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

  private static Iterator<MiniBatch> toBatches(
      Iterator<Tuple2<Integer, Example>> it, int batchSize, int numFeatures, int steps) {
    List<MiniBatch> out = new ArrayList<>(steps);
    List<Example> buf = new ArrayList<>();
    int step = 0;
    while (it.hasNext()) {
      Tuple2<Integer, Example> t = it.next();
      int s = t._1() / batchSize;
      while (step < s) {
        out.add(MiniBatch.of(step++, numFeatures, buf));
        buf.clear();
      }
      buf.add(t._2());
    }
    while (step < steps) {
      out.add(MiniBatch.of(step++, numFeatures, buf));
      buf.clear();
    }
    return out.iterator();
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
