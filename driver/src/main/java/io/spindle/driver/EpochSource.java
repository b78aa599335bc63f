package io.spindle.driver;

import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.driver.data.DistributedDataset;
import org.apache.spark.api.java.JavaRDD;

/**
 * Where the training loop takes each epoch's per-worker, step-ordered mini-batches from: the data
 * set itself, or (layer-wise pre-training) the data set mapped through frozen layers.
 */
public interface EpochSource {
  /** How each step's global batch is split over the workers. */
  BatchLayout layout();

  /** One partition per worker, each holding its share of every step of epoch {@code epoch}. */
  JavaRDD<MiniBatch> epoch(int epoch);

  /** Called once the loop is done with an epoch's batches. */
  default void release(JavaRDD<MiniBatch> batches) {}

  /** The training set of {@code data}. */
  static EpochSource of(DistributedDataset data) {
    BatchLayout layout = new BatchLayout(data.numTrain(), data.batchSize(), data.workers());
    return new EpochSource() {
      @Override
      public BatchLayout layout() {
        return layout;
      }

      @Override
      public JavaRDD<MiniBatch> epoch(int epoch) {
        return data.epoch(epoch);
      }
    };
  }
}
