package io.spindle.bench;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerBlockUpdated;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.storage.BlockUpdatedInfo;

/**
 * Counts the bytes a Spark application moves between driver and executors, from Spark's own events:
 * shuffle bytes written by tasks, serialised task results, and the stored (compressed) pieces of
 * every broadcast. Read the totals after the context stopped: stopping drains the listener bus.
 */
public final class TrafficListener extends SparkListener {
  public static final String METHOD =
      "SparkListener: (workers x broadcast piece bytes + task result bytes + shuffle write bytes)"
          + " / workers / steps; counts every Spark job of the run, data shuffles and evaluation"
          + " included";

  private final AtomicLong shuffleBytes = new AtomicLong();
  private final AtomicLong resultBytes = new AtomicLong();
  private final AtomicLong broadcastBytes = new AtomicLong();
  private final Set<String> pieces = ConcurrentHashMap.newKeySet();

  @Override
  public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
    TaskMetrics m = taskEnd.taskMetrics();
    if (m != null) {
      shuffleBytes.addAndGet(m.shuffleWriteMetrics().bytesWritten());
      resultBytes.addAndGet(m.resultSize());
    }
  }

  @Override
  public void onBlockUpdated(SparkListenerBlockUpdated blockUpdated) {
    BlockUpdatedInfo info = blockUpdated.blockUpdatedInfo();
    String name = info.blockId().name();
    if (info.blockId().isBroadcast()
        && name.contains("_piece")
        && info.storageLevel().isValid()
        && pieces.add(name)) {
      broadcastBytes.addAndGet(info.memSize() + info.diskSize());
    }
  }

  public long shuffleBytes() {
    return shuffleBytes.get();
  }

  public long resultBytes() {
    return resultBytes.get();
  }

  public long broadcastBytes() {
    return broadcastBytes.get();
  }

  /** Bytes per worker per step: each worker fetches every broadcast once. */
  public double bytesPerWorkerPerStep(int workers, long steps) {
    double total = (double) workers * broadcastBytes() + resultBytes() + shuffleBytes();
    return total / workers / Math.max(1, steps);
  }
}
