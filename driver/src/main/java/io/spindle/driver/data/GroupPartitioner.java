package io.spindle.driver.data;

import org.apache.spark.Partitioner;

/**
 * Sends an epoch chunk to the worker that trains on it: chunk keys are {@code worker * groups +
 * group} (see {@link EpochChunks}), so sorting a worker's partition by key orders it by group.
 */
final class GroupPartitioner extends Partitioner {
  private static final long serialVersionUID = 1L;
  private final int workers;
  private final int groups;

  GroupPartitioner(int workers, int groups) {
    this.workers = workers;
    this.groups = groups;
  }

  @Override
  public int numPartitions() {
    return workers;
  }

  @Override
  public int getPartition(Object key) {
    return (Integer) key / groups;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GroupPartitioner p && p.workers == workers && p.groups == groups;
  }

  @Override
  public int hashCode() {
    return workers * 31 + groups;
  }
}
