package io.spindle.driver.data;

import io.spindle.config.AugmentConfig;
import io.spindle.config.ConfigException;
import io.spindle.data.EpochPlan;
import io.spindle.data.Example;
import io.spindle.data.ExampleBlock;
import io.spindle.data.ImageAugmentation;
import io.spindle.data.MiniBatch;
import io.spindle.worker.AugmentedBatches;
import io.spindle.worker.MnistPartitionReader;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;

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

  /** Rows of the cached training blocks (at most this many examples per block). */
  static final int BLOCK_ROWS = 4096;

  /** Bytes of features per cached block (about; at least one example). */
  static final long BLOCK_BYTES = 8L << 20;

  /** Decoded feature bytes a worker assembles at once: one group of steps of the epoch. */
  static final long GROUP_BYTES = 8L << 20;

  private final JavaRDD<ExampleBlock> blocks;
  private final JavaRDD<Example> train;
  private final JavaRDD<MiniBatch> test;
  private final int numTrain;
  private final int numTest;
  private final int numFeatures;
  private final int numClasses;
  private final int[] shape;
  private final int[] storedShape;
  private final boolean regression;
  private final boolean encoded;
  private final int batchSize;
  private final int workers;
  private final long seed;
  private final int prefetch;
  private final long skipped;
  private final ImageAugmentation augmentation;
  private final JavaRDD<MiniBatch> evaluated;
  private JavaRDD<MiniBatch> current;

  private DistributedDataset(
      JavaSparkContext sc,
      JavaRDD<Example> examples,
      StorageLevel level,
      JavaRDD<MiniBatch> test,
      int numClasses,
      int batchSize,
      int workers,
      long seed,
      int prefetch,
      long skipped,
      AugmentConfig augment,
      int augmentedSize) {
    this.sc = sc;
    this.prefetch = prefetch;
    this.skipped = skipped;
    this.blocks =
        examples
            .mapPartitions(it -> ExampleBlock.pack(it, BLOCK_ROWS, BLOCK_BYTES), true)
            .setName("train example blocks")
            .persist(level);
    this.train = blocks.flatMap(ExampleBlock::examples);
    this.test = test;
    this.numClasses = numClasses;
    this.workers = workers;
    this.seed = seed;
    this.numTrain = blocks.map(ExampleBlock::size).fold(0, Integer::sum);
    this.batchSize = batchSize == 0 ? numTrain : batchSize; // 0: full-batch gradient descent
    examples.unpersist(false); // the blocks hold the training set now
    this.numTest = test.map(MiniBatch::size).fold(0, Integer::sum);
    List<ExampleBlock> first = blocks.take(1);
    if (numTrain == 0 || first.isEmpty()) {
      throw new IllegalArgumentException("the training set is empty");
    }
    this.regression = first.get(0).isRegression();
    this.encoded = first.get(0).bytesPerFeature() == 1;
    this.storedShape = first.get(0).shape();
    if (augment.active()) {
      if (!encoded) {
        throw new ConfigException(
            "data.augment needs images read as 8-bit pixels (mnist, fashion-mnist, cifar10,"
                + " cifar100, image_folder), but this data set holds float features");
      }
      this.augmentation = ImageAugmentation.of(augment, first.get(0).shape(), augmentedSize, seed);
      this.numFeatures = augmentation.outputFeatures();
      this.shape = augmentation.outputShape();
      ImageAugmentation a = augmentation;
      this.evaluated = test.map(a::evaluate);
    } else {
      this.augmentation = null;
      this.numFeatures = first.get(0).numFeatures();
      this.shape = first.get(0).shape();
      this.evaluated = test;
    }
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
    JavaRDD<Example> train = readIdx(sc, trainImages, trainLabels, numClasses, limit, workers);
    int evalBatch = 1000;
    JavaRDD<MiniBatch> test =
        readIdx(sc, testImages, testLabels, numClasses, 0, workers)
            .mapPartitions(it -> chunk(it, evalBatch))
            .setName("test batches")
            .persist(StorageLevel.MEMORY_ONLY());
    return new DistributedDataset(
        sc,
        train,
        StorageLevel.MEMORY_ONLY(),
        test,
        numClasses,
        batchSize,
        workers,
        seed,
        0,
        0,
        AugmentConfig.none(),
        0);
  }

  /**
   * A data set from examples already read on the executors (see {@link DatasetLoader}). The
   * training examples must be indexed densely {@code 0..n-1}; they are kept in Spark's cache as
   * {@link ExampleBlock}s (a few flat arrays each, as compact in memory as serialised, so they are
   * kept deserialised), spilling to disk ({@code MEMORY_AND_DISK}), so a set larger than the
   * executors' memory still trains.
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
    return of(
        sc,
        train,
        test,
        numClasses,
        batchSize,
        workers,
        seed,
        prefetch,
        skipped,
        AugmentConfig.none(),
        0);
  }

  /**
   * As {@link #of(JavaSparkContext, JavaRDD, JavaRDD, int, int, int, long, int, long)}, with
   * augmentation: every epoch's training batches are augmented on the executors, in the prefetch
   * thread ({@link AugmentedBatches}), and the test batches get the evaluation transform ({@link
   * ImageAugmentation#evaluate}); {@link #numFeatures} and the batches' shape are then the
   * augmentation's output.
   *
   * @param augmentedSize side of the square training output (0 = the stored images' size)
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
      long skipped,
      AugmentConfig augment,
      int augmentedSize) {
    int evalBatch = 1000;
    JavaRDD<MiniBatch> testBatches =
        test.mapPartitions(it -> chunk(it, evalBatch))
            .setName("test batches")
            .persist(StorageLevel.MEMORY_AND_DISK_SER());
    return new DistributedDataset(
        sc,
        train,
        StorageLevel.MEMORY_AND_DISK(),
        testBatches,
        numClasses,
        batchSize,
        workers,
        seed,
        prefetch,
        skipped,
        augment,
        augmentedSize);
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
   *
   * <p>How: every cached block is cut, by the {@link EpochPlan} of (seed, epoch), into chunks of
   * the rows that go to the same worker and the same group of consecutive steps, each row's id now
   * its epoch position ({@link EpochChunks}); one Spark shuffle sorts the chunks of each worker by
   * group, and the worker's partition assembles each group's batches by placing every row at its
   * position ({@link EpochBatches}). A few hundred compact chunks travel instead of one record per
   * example, and a worker holds one group of steps (about {@link #GROUP_BYTES} of features) at a
   * time, so memory stays bounded however large the data set.
   */
  public JavaRDD<MiniBatch> epoch(int epoch) {
    return epoch(epoch, stepsPerGroup());
  }

  /** As {@link #epoch(int)}, assembling {@code group} steps at a time (tests use small groups). */
  JavaRDD<MiniBatch> epoch(int epoch, int group) {
    if (group <= 0) {
      throw new IllegalArgumentException("steps per group must be > 0, got " + group);
    }
    int n = numTrain;
    int b = batchSize;
    int w = workers;
    long s = seed;
    int steps = stepsPerEpoch();
    int groups = (steps + group - 1) / group;
    int[] rowShape = storedShape.clone();
    boolean reg = regression;
    boolean enc = encoded;
    JavaPairRDD<Integer, ExampleBlock> chunks =
        blocks.mapPartitionsToPair(
            it -> new EpochChunks(it, new EpochPlan(n, b, w, s, epoch), group, groups));
    JavaRDD<MiniBatch> batches =
        chunks
            .repartitionAndSortWithinPartitions(new GroupPartitioner(w, groups))
            .mapPartitionsWithIndex(
                (worker, it) -> new EpochBatches(it, n, b, w, worker, group, rowShape, reg, enc),
                true)
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
    ImageAugmentation aug = augmentation;
    if (ahead == 0 && aug == null) {
      return batches;
    }
    return batches.mapPartitionsWithIndex(
        (worker, it) -> {
          Iterator<MiniBatch> source =
              aug == null
                  ? it
                  : new AugmentedBatches(it, aug, new EpochPlan(n, b, w, s, epoch), epoch, worker);
          if (ahead == 0) {
            return source;
          }
          var p = new io.spindle.worker.PrefetchIterator<>(source, ahead, "spindle-prefetch");
          org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
          if (task != null) {
            task.addTaskCompletionListener(
                (org.apache.spark.util.TaskCompletionListener) ctx -> p.close());
          }
          return p;
        },
        true);
  }

  /** Consecutive steps a worker assembles together: about {@link #GROUP_BYTES} of features. */
  int stepsPerGroup() {
    long stored = (long) storedShape[0] * storedShape[1] * storedShape[2];
    long shareBytes = (encoded ? 1L : 4L) * ((batchSize + workers - 1) / workers) * stored;
    long g = Math.max(1, GROUP_BYTES / Math.max(1, shareBytes));
    return (int) Math.min(g, stepsPerEpoch());
  }

  /** The training examples (cached on the executors as blocks), in no particular order. */
  public JavaRDD<Example> trainExamples() {
    return train;
  }

  /** The test batches, with the evaluation transform when the data set is augmented. */
  public JavaRDD<MiniBatch> test() {
    return evaluated;
  }

  /** The augmentation of training batches, or null. */
  public ImageAugmentation augmentation() {
    return augmentation;
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
