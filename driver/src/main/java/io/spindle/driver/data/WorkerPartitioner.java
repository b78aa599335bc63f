package io.spindle.driver.data;

import io.spindle.data.EpochPlan;
import org.apache.spark.Partitioner;

/** Sends the example at each epoch position to the worker that trains on it (see EpochPlan). */
final class WorkerPartitioner extends Partitioner {
  private static final long serialVersionUID = 1L;
  private final int numExamples;
  private final int batchSize;
  private final int workers;

  WorkerPartitioner(int numExamples, int batchSize, int workers) {
    this.numExamples = numExamples;
    this.batchSize = batchSize;
    this.workers = workers;
  }

  @Override
  public int numPartitions() {
    return workers;
  }

  @Override
  public int getPartition(Object position) {
    return EpochPlan.workerOf((Integer) position, numExamples, batchSize, workers);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof WorkerPartitioner p
        && p.numExamples == numExamples
        && p.batchSize == batchSize
        && p.workers == workers;
  }

  @Override
  public int hashCode() {
    return (numExamples * 31 + batchSize) * 31 + workers;
  }
}
