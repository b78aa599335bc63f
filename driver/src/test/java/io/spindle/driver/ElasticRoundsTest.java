package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.Activation;
import io.spindle.config.ClusterConfig;
import io.spindle.config.Compression;
import io.spindle.config.CompressionSpec;
import io.spindle.config.ConfigLoader;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.SpindleConfig;
import io.spindle.config.SyncMode;
import io.spindle.config.WeightInit;
import io.spindle.data.MiniBatch;
import io.spindle.driver.checkpoint.Checkpoint;
import io.spindle.driver.cli.ExitCode;
import io.spindle.driver.cli.SpindleCli;
import io.spindle.driver.data.DistributedDataset;
import io.spindle.driver.job.TrainJob;
import io.spindle.driver.sync.CollectiveSync;
import io.spindle.worker.ModelSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Elastic rounds of the collective engine inside one run (issue 16): the workers alive change
 * between rounds and in the middle of one, and the run still follows the trajectory of a run on a
 * fixed four workers. The executors coming and going are {@link FakeExecutors}: the listener events
 * Spark posts, handed to the run's {@link ExecutorSlots} in local mode.
 */
class ElasticRoundsTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[4,3]");
  @TempDir static Path cache;

  static final int SHARDS = 4;
  static final int ROUND = 5;
  static final Map<String, INDArray> FIXED = new HashMap<>();

  /** Set while a test's run may lose a worker mid-round: called by the task that loses it. */
  static volatile Runnable loseOne;

  static final AtomicBoolean ARMED = new AtomicBoolean();

  FakeExecutors executors;

  @BeforeAll
  static void fetch() {
    DistributedEqualsLocalTest.use(SPARK, cache);
  }

  @BeforeEach
  void replaceTheLocalExecutor() {
    executors = new FakeExecutors(SPARK.sc());
    executors.set(SHARDS);
  }

  @AfterEach
  void restoreIt() {
    loseOne = null;
    executors.close();
  }

  /** 784-32-(batch norm)-16-10, dropout 0.1 and 0.2, Adam. */
  static ModelSpec spec(boolean batchNorm) {
    List<LayerConfig> layers = new ArrayList<>();
    layers.add(new LayerConfig(LayerType.DENSE, 32, Activation.RELU, 0.1, null));
    if (batchNorm) {
      layers.add(LayerConfig.of(LayerType.BATCH_NORM));
    }
    layers.add(LayerConfig.dense(16, Activation.TANH));
    layers.add(new LayerConfig(LayerType.OUTPUT, 10, Activation.SOFTMAX, 0.2, Loss.CROSS_ENTROPY));
    return DistributedEqualsLocalTest.spec(
        new ModelConfig(layers, WeightInit.XAVIER_UNIFORM, 0.0, 1e-4, Precision.FLOAT32),
        OptimizerConfig.of(OptimizerType.ADAM, 1e-3));
  }

  static ClusterConfig cluster(int minWorkers, int waitSeconds) {
    return cluster("local[4,3]", SHARDS, minWorkers, waitSeconds);
  }

  /** The collective engine on {@code master}, rounds of {@link #ROUND} steps, 30 s timeouts. */
  static ClusterConfig cluster(String master, int shards, int minWorkers, int waitSeconds) {
    return new ClusterConfig(
        master,
        shards,
        SyncMode.COLLECTIVE,
        4,
        0,
        ROUND,
        Compression.NONE,
        ClusterConfig.DEFAULT_POWERSGD_RANK,
        ClusterConfig.DEFAULT_TOPK_FRACTION,
        true,
        30,
        waitSeconds,
        minWorkers,
        0);
  }

  /** The collective engine over {@code data}, its workers from {@code cluster}'s pool. */
  static CollectiveSync collective(
      SparkLocal spark, DistributedDataset data, ClusterConfig cluster, PrintStream console) {
    return new CollectiveSync(
        spark.sc(),
        DistributedEqualsLocalTest.layout(data),
        ROUND,
        CompressionSpec.NONE,
        true,
        30_000,
        true,
        WorkerPool.of(spark.sc(), cluster, console),
        console);
  }

  /** What a test does before round {@code round} (from 0): it may change the round's input. */
  @FunctionalInterface
  interface BeforeRound {
    JavaRDD<MiniBatch> apply(int round, int step, JavaRDD<MiniBatch> batches);
  }

  /** {@code sync}, with {@code before} run before each of its rounds. */
  static ParameterSync beforeEachRound(CollectiveSync sync, BeforeRound before) {
    return new ParameterSync() {
      int round;

      @Override
      public RoundResult round(
          JavaRDD<MiniBatch> batches, int step, int maxSteps, long iteration, GlobalModel model) {
        return sync.round(before.apply(round++, step, batches), step, maxSteps, iteration, model);
      }

      @Override
      public String name() {
        return sync.name();
      }
    };
  }

  /**
   * 50 steps (two reshuffles) of the collective engine over {@code shards} logical shards, in
   * rounds of 5, with before round r {@code workersByRound[r]} executors alive (the last entry
   * repeats); with {@code loseInRound} >= 0, in that round rank 0 loses its executor when it
   * reaches the round's third step. Returns the parameters and the engine's facts.
   */
  static INDArray run(
      ModelSpec spec,
      int shards,
      FakeExecutors executors,
      int[] workersByRound,
      int loseInRound,
      Map<String, Object> facts) {
    try (DistributedDataset data = DistributedEqualsLocalTest.data(shards)) {
      PrintStream console = new PrintStream(System.out, true, StandardCharsets.UTF_8);
      CollectiveSync sync = collective(SPARK, data, cluster(2, 5), console);
      ParameterSync scheduled =
          beforeEachRound(
              sync,
              (r, step, batches) -> {
                executors.set(workersByRound[Math.min(r, workersByRound.length - 1)]);
                if (r != loseInRound) {
                  return batches;
                }
                ARMED.set(true);
                loseOne = () -> executors.set(executors.count() - 1);
                int at = step + 2;
                return batches.mapPartitionsWithIndex(
                    (w, it) -> w == 0 ? new LoseAt(it, at) : it, true);
              });
      INDArray params =
          DistributedEqualsLocalTest.trainDistributed(scheduled, data, new GlobalModel(spec));
      facts.putAll(sync.facts());
      return params;
    }
  }

  /**
   * Rank 0's partition, which at step {@code at} of its first attempt loses its executor: it tells
   * the pool (as Spark's listener would), then hangs as a dead task does until the round is
   * cancelled.
   */
  static final class LoseAt implements Iterator<MiniBatch> {
    private final Iterator<MiniBatch> in;
    private final int at;

    LoseAt(Iterator<MiniBatch> in, int at) {
      this.in = in;
      this.at = at;
    }

    @Override
    public boolean hasNext() {
      return in.hasNext();
    }

    @Override
    public MiniBatch next() {
      MiniBatch b = in.next();
      if (b.step() == at && ARMED.compareAndSet(true, false)) {
        loseOne.run();
        TaskContext task = TaskContext.get();
        while (!task.isInterrupted()) {
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            break;
          }
        }
        throw new IllegalStateException("test: rank 0's executor is gone");
      }
      return b;
    }
  }

  /** The trajectory on a fixed four workers, one shard each (computed once per model). */
  INDArray fixed(boolean batchNorm) {
    return FIXED.computeIfAbsent(
        "bn=" + batchNorm,
        k -> run(spec(batchNorm), SHARDS, executors, new int[] {SHARDS}, -1, new HashMap<>()));
  }

  @Test
  void workersLostAndAddedBetweenAndDuringRoundsKeepTheTrajectory() {
    INDArray expected = fixed(false);
    Map<String, Object> facts = new HashMap<>();
    // 4, 2, 2, 3 workers, then 4; in round 4 (4 workers) rank 0's executor is lost at its third
    // step, and the round is formed again with the 3 left
    INDArray actual = run(spec(false), SHARDS, executors, new int[] {4, 2, 2, 3, 4}, 4, facts);
    double rel = DistributedEqualsLocalTest.relativeError(actual, expected);
    System.out.printf(Locale.ROOT, "[elastic-rounds] dropout: %.3g, facts %s%n", rel, facts);
    assertTrue(rel <= 1e-5, "relative L2 difference " + rel + " exceeds 1e-5");
    assertEquals(1, facts.get("rounds_abandoned"));
    @SuppressWarnings("unchecked")
    Map<String, Long> steps = (Map<String, Long>) facts.get("steps_by_workers");
    assertEquals(50L, steps.values().stream().mapToLong(Long::longValue).sum());
    assertTrue(steps.keySet().containsAll(List.of("2", "3", "4")), steps.toString());
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> changes = (List<Map<String, Object>>) facts.get("worker_changes");
    assertEquals(List.of(2, 3, 4, 3, 4), changes.stream().map(c -> c.get("to")).toList());
  }

  /**
   * Batch norm normalises over each logical shard, whichever worker computes it: with the shards
   * fixed, 4, 2 or 3 live workers give the same trajectory (to float rounding). The shard count is
   * what the statistics depend on: two shards of the same global batches give another trajectory.
   */
  @Test
  void batchNormFollowsTheShardsNotTheWorkers() {
    INDArray expected = fixed(true);
    INDArray elastic =
        run(spec(true), SHARDS, executors, new int[] {4, 2, 3, 4}, -1, new HashMap<>());
    double rel = DistributedEqualsLocalTest.relativeError(elastic, expected);
    executors.set(2);
    INDArray twoShards = run(spec(true), 2, executors, new int[] {2}, -1, new HashMap<>());
    double other = DistributedEqualsLocalTest.relativeError(twoShards, expected);
    System.out.printf(
        Locale.ROOT,
        "[elastic-rounds] batch norm: 4 shards on 4/2/3 workers %.3g; 2 shards %.3g%n",
        rel,
        other);
    assertTrue(rel <= 1e-5, "relative L2 difference " + rel + " exceeds 1e-5");
    assertTrue(other > 1e-3, "2 shards normalise over other groups, yet differ only by " + other);
  }

  @Test
  void belowTheFloorARoundWaitsItsBoundThenFailsWithoutTouchingTheModel() {
    try (DistributedDataset data = DistributedEqualsLocalTest.data(SHARDS)) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      PrintStream console = new PrintStream(out, true, StandardCharsets.UTF_8);
      CollectiveSync sync = collective(SPARK, data, cluster(3, 1), console);
      GlobalModel model = new GlobalModel(spec(false));
      INDArray before = model.params().dup();
      executors.set(2);
      long start = System.nanoTime();
      ClusterCapacityException e =
          assertThrows(
              ClusterCapacityException.class, () -> sync.round(data.epoch(0), 0, ROUND, 0, model));
      double seconds = (System.nanoTime() - start) / 1e9;
      assertTrue(e.getMessage().contains("needs at least 3 live workers (cluster.minWorkers"));
      assertTrue(e.getMessage().contains("after waiting 1 s (cluster.executorWaitSeconds)"));
      assertTrue(e.getMessage().contains("offer 2 task slots"), e.getMessage());
      assertTrue(e.getMessage().contains("missing 1"), e.getMessage());
      assertTrue(seconds < 10, "gave up after " + seconds + " s");
      assertTrue(
          out.toString(StandardCharsets.UTF_8)
              .contains("waiting for executors: 2 of 3 task slots"));
      assertEquals(before, model.params(), "a round that never started changed the model");
    }
  }

  /**
   * The whole run: below {@code cluster.minWorkers} for {@code executorWaitSeconds} it exits 5 with
   * a message saying what is missing, writes no summary, and its newest checkpoint resumes to the
   * uninterrupted run's end state bit for bit.
   */
  @Test
  void aRunBelowItsFloorExits5AndItsLastCheckpointStaysValid(@TempDir Path tmp) throws Exception {
    List<String> s = ExactResumeTest.settings(tmp, "collective");
    s.addAll(
        List.of(
            "cluster.workers=4",
            "cluster.minWorkers=3",
            "cluster.executorWaitSeconds=1",
            "checkpoint.everySteps=4"));
    Path whole = tmp.resolve("whole");
    ExactResumeTest.train(SPARK.sc(), whole, s);

    Path out = tmp.resolve("run");
    SpindleConfig config = ConfigLoader.load(null, s);
    TrainingListener loseTwo =
        new TrainingListener() {
          @Override
          public void onRound(TrainingState state, RoundResult round) {
            if (state.globalStep() >= 8) {
              executors.set(2);
            }
          }
        };
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    RuntimeException e =
        assertThrows(
            RuntimeException.class,
            () ->
                TrainJob.run(
                    SPARK.sc(),
                    config,
                    io.spindle.driver.data.DatasetFiles.fetch(config),
                    new RunOutput(out),
                    new PrintStream(console, true, StandardCharsets.UTF_8),
                    List.of(loseTwo)));
    assertEquals(ExitCode.CLUSTER_FAILURE, SpindleCli.classify(e));
    assertEquals(5, ExitCode.CLUSTER_FAILURE.code());
    assertTrue(e.getMessage().contains("needs at least 3 live workers"), e.getMessage());
    assertFalse(Files.exists(out.resolve("summary.json")), "a failed run wrote its summary");
    Checkpoint newest =
        ExactResumeTest.store(out).newestValid(new PrintStream(new ByteArrayOutputStream())).get();
    assertEquals(8, newest.globalStep());

    executors.set(SHARDS);
    Map<String, Object> resumed =
        ExactResumeTest.train(SPARK.sc(), out, s, "checkpoint.resume=auto");
    assertEquals(24L, resumed.get("steps"));
    ExactResumeTest.assertSameState(ExactResumeTest.last(whole), ExactResumeTest.last(out));
  }
}
