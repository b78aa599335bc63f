package io.spindle.driver;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.cluster.ExecutorInfo;

/**
 * Executors coming and going in local mode, as the {@link ExecutorSlots} listener of a context sees
 * them: the test hands the listener the very events Spark posts when executors are added or removed
 * (one-core executors named {@code fake-N}), in place of the local-mode executor Spark announces
 * for the driver. Spark's own scheduling does not change (local mode keeps its slots); what changes
 * is the worker count {@link WorkerPool} gives each round. {@link #close} restores the driver's
 * executor.
 */
final class FakeExecutors implements AutoCloseable {
  private final ExecutorSlots listener;
  private final SparkConf conf;
  private final int driverCores;
  private final List<String> live = new ArrayList<>();

  FakeExecutors(JavaSparkContext sc) {
    this.conf = sc.getConf();
    this.listener =
        ExecutorSlots.of(conf)
            .orElseThrow(() -> new IllegalStateException("the context has no ExecutorSlots"));
    // Spark announces the local executor asynchronously; wait for it before replacing it
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (listener.slots(conf) == 0 && System.nanoTime() < deadline) {
      sleep(10);
    }
    this.driverCores = listener.slots(conf);
    if (driverCores == 0) {
      throw new IllegalStateException("Spark did not announce the local executor");
    }
    listener.onExecutorRemoved(new SparkListenerExecutorRemoved(now(), "driver", "test"));
  }

  /** Makes exactly {@code n} one-core executors alive. */
  synchronized void set(int n) {
    while (live.size() > n) {
      String id = live.remove(live.size() - 1);
      listener.onExecutorRemoved(new SparkListenerExecutorRemoved(now(), id, "test: lost"));
    }
    while (live.size() < n) {
      String id = "fake-" + live.size();
      listener.onExecutorAdded(
          new SparkListenerExecutorAdded(now(), id, new ExecutorInfo("127.0.0.1", 1, emptyMap())));
      live.add(id);
    }
  }

  synchronized int count() {
    return live.size();
  }

  @Override
  public synchronized void close() {
    set(0);
    listener.onExecutorAdded(
        new SparkListenerExecutorAdded(
            now(), "driver", new ExecutorInfo("127.0.0.1", driverCores, emptyMap())));
  }

  private static scala.collection.immutable.Map<String, String> emptyMap() {
    return scala.collection.immutable.Map$.MODULE$.<String, String>empty();
  }

  private static long now() {
    return System.currentTimeMillis();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
