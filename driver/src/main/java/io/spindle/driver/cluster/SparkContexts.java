package io.spindle.driver.cluster;

import io.spindle.config.ClusterConfig;
import io.spindle.config.SyncMode;
import io.spindle.driver.BarrierSlots;
import io.spindle.driver.ClusterUnreachableException;
import io.spindle.driver.ExecutorSlots;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Creates the Spark context of a run. Under spark-submit the master and settings come from the
 * submit; otherwise Spindle runs in Spark's embedded local mode with one core per worker, bound to
 * 127.0.0.1.
 */
public final class SparkContexts {
  /** Seconds between Spark's slot checks of a barrier job that found too few slots. */
  public static final int BARRIER_CHECK_INTERVAL_SECONDS = 1;

  /** Spark's slot checks retried before a barrier job with too few slots fails. */
  public static final int BARRIER_CHECK_RETRIES = 2;

  private SparkContexts() {}

  public static SparkConf conf(ClusterConfig cluster, String appName) {
    SparkConf conf = new SparkConf().setAppName(appName);
    if (!conf.contains("spark.master")) {
      conf.setMaster(
          cluster.master().isEmpty() ? "local[" + cluster.workers() + "]" : cluster.master());
    }
    if (isLocal(conf)) {
      conf.setIfMissing("spark.driver.host", "127.0.0.1");
      conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
    }
    conf.setIfMissing("spark.ui.showConsoleProgress", "false");
    String plugin = io.spindle.driver.monitor.SpindlePlugin.class.getName();
    String plugins = conf.get("spark.plugins", "");
    if (!plugins.contains(plugin)) {
      conf.set("spark.plugins", plugins.isBlank() ? plugin : plugins + "," + plugin);
    }
    // The executors and their slots, for BarrierSlots.await: a listener Spark creates before any
    // executor registers, found again through a token unique to this configuration.
    String listener = ExecutorSlots.class.getName();
    String listeners = conf.get("spark.extraListeners", "");
    if (!listeners.contains(listener)) {
      conf.set("spark.extraListeners", listeners.isBlank() ? listener : listeners + "," + listener);
    }
    conf.set(ExecutorSlots.TOKEN_KEY, java.util.UUID.randomUUID().toString());
    // Spark's own slot check before each barrier job (a collective round's) gives up within
    // about BARRIER_CHECK_SECONDS; by default it retries every 15 s for 10 minutes. Spindle waits
    // for executors itself, with a progress line and cluster.executorWaitSeconds as the bound
    // (BarrierSlots.await before the first round, WorkerPool.await before every round), so Spark's
    // check only meets a job whose executor was lost between the round's forming and its
    // submission. Such a job is not yet active, so cancelling its job group cannot stop it; the
    // round is formed again from the survivors as soon as it fails (CollectiveSync).
    conf.setIfMissing(
        "spark.scheduler.barrier.maxConcurrentTasksCheck.interval",
        BARRIER_CHECK_INTERVAL_SECONDS + "s");
    conf.setIfMissing(
        "spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures",
        String.valueOf(BARRIER_CHECK_RETRIES));
    // An elastic run's tasks (gradient sharing, parameter averaging: one per shard, no barrier)
    // would otherwise wait for the executors holding their cached shards, and an executor added
    // later, holding none, would get no work: with no locality wait it takes a shard at once.
    if (cluster.elastic() && cluster.sync() != SyncMode.COLLECTIVE) {
      conf.setIfMissing("spark.locality.wait", "0s");
    }
    conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
    // Kryo refuses any class not registered below, so no unexpected class travels between JVMs.
    conf.setIfMissing("spark.kryo.registrationRequired", "true");
    conf.registerKryoClasses(KRYO_CLASSES);
    conf.registerKryoClasses(
        new Class<?>[] {
          float[].class,
          int[].class,
          double[].class,
          long[].class,
          byte[].class,
          Object[].class,
          // the collective engine's committed exchange states, one byte[] per worker
          byte[][].class
        });
    return conf;
  }

  /**
   * Every class Spindle ships through Spark's serializer (shuffles, broadcasts, task results,
   * collected arrays), each also as an array type.
   */
  static final Class<?>[] KRYO_CLASSES =
      java.util.stream.Stream.of(
              io.spindle.data.Example.class,
              io.spindle.data.ExampleBlock.class,
              io.spindle.data.MiniBatch.class,
              io.spindle.tensor.FlatVector.class,
              io.spindle.sync.GradientAggregator.class,
              io.spindle.sync.AveragingAggregator.class,
              io.spindle.sync.Evaluation.class,
              io.spindle.worker.collective.CollectiveResult.class,
              io.spindle.worker.collective.RoundTimeline.class,
              io.spindle.data.InputSplit.class,
              io.spindle.data.InputSplit.Kind.class,
              // the input partitions' split lists travel as parallelized data
              java.util.ArrayList.class,
              String.class)
          .flatMap(c -> java.util.stream.Stream.of(c, c.arrayType()))
          .toArray(Class<?>[]::new);

  public static boolean isLocal(SparkConf conf) {
    return conf.get("spark.master", "").startsWith("local");
  }

  public static JavaSparkContext create(ClusterConfig cluster, String appName) {
    return create(cluster, appName, false);
  }

  /**
   * As {@link #create(ClusterConfig, String)}; with {@code sqlData} (a table data set, read through
   * Spark SQL, whose own classes travel through Kryo and are not Spindle's to register) Kryo's
   * registration requirement is left off unless the user set it.
   */
  public static JavaSparkContext create(ClusterConfig cluster, String appName, boolean sqlData) {
    SparkConf conf = conf(cluster, appName);
    if (sqlData && System.getProperty("spark.kryo.registrationRequired") == null) {
      conf.set("spark.kryo.registrationRequired", "false");
    }
    BarrierSlots.checkUpFront(conf, cluster);
    checkMasterReachable(conf.get("spark.master"), 5000);
    return new JavaSparkContext(conf);
  }

  /**
   * Fails fast, as a Spark failure, when no master of a standalone URL ({@code
   * spark://host:port[,host:port]}) accepts a TCP connection within {@code timeoutMillis}. Spark
   * itself would retry registering for a minute before giving up.
   */
  public static void checkMasterReachable(String master, int timeoutMillis) {
    if (!master.startsWith("spark://")) {
      return;
    }
    StringBuilder errors = new StringBuilder();
    for (String hostPort : master.substring("spark://".length()).split(",")) {
      int colon = hostPort.lastIndexOf(':');
      String host = colon > 0 ? hostPort.substring(0, colon) : hostPort;
      int port = colon > 0 ? Integer.parseInt(hostPort.substring(colon + 1).trim()) : 7077;
      try (java.net.Socket s = new java.net.Socket()) {
        s.connect(new java.net.InetSocketAddress(host, port), timeoutMillis);
        return;
      } catch (java.io.IOException e) {
        errors.append(errors.length() == 0 ? "" : "; ").append(hostPort).append(": ").append(e);
      }
    }
    throw new ClusterUnreachableException(
        "cannot reach the Spark master "
            + master
            + " ("
            + errors
            + "); check spark-submit --master or cluster.master, and that the master is running");
  }

  /**
   * ND4J threads per worker: the configured value, or in local mode the machine's cores shared by
   * the workers, or on a cluster the CPUs each task claims ({@code spark.task.cpus}).
   */
  public static int threadsPerWorker(JavaSparkContext sc, ClusterConfig cluster) {
    if (cluster.threadsPerWorker() > 0) {
      return cluster.threadsPerWorker();
    }
    if (isLocal(sc.getConf())) {
      return io.spindle.runtime.Nd4jRuntime.threadsFor(0, cluster.workers());
    }
    return Math.max(1, sc.getConf().getInt("spark.task.cpus", 1));
  }
}
