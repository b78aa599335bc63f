package io.spindle.driver.score;

import io.spindle.driver.cluster.SparkContexts;
import io.spindle.worker.BatchScorer;
import io.spindle.worker.ScoringNetwork;
import java.io.Serializable;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * Batch scoring of a {@link ScoringInput}: the network goes to the executors in one broadcast, and
 * each partition is scored in batches ({@link BatchScorer}) with a network built once per executor
 * JVM.
 */
public final class Scoring {
  /** Examples per forward pass of SpindleModel's transform unless told otherwise. */
  public static final int DEFAULT_BATCH = 1024;

  private Scoring() {}

  /** One scored example: its id, its label (NaN if none) and the network's output row. */
  public static final class Scored implements Serializable {
    private static final long serialVersionUID = 1L;
    final long index;
    final String path;
    final double label;
    final float[] output;

    Scored(long index, String path, double label, float[] output) {
      this.index = index;
      this.path = path;
      this.label = label;
      this.output = output;
    }

    public long index() {
      return index;
    }

    public String path() {
      return path;
    }

    public double label() {
      return label;
    }

    public float[] output() {
      return output;
    }

    /** The class with the highest output (ties: the lowest index). */
    public int argMax() {
      int best = 0;
      for (int i = 1; i < output.length; i++) {
        if (output[i] > output[best]) {
          best = i;
        }
      }
      return best;
    }
  }

  /** ND4J threads per scoring task: one task per core in local mode, spark.task.cpus otherwise. */
  public static int threadsPerTask(JavaSparkContext sc) {
    return SparkContexts.isLocal(sc.getConf())
        ? 1
        : Math.max(1, sc.getConf().getInt("spark.task.cpus", 1));
  }

  /**
   * Scores {@code input} lazily; the caller runs one action on the result, then destroys the
   * returned broadcast.
   */
  public static Result score(
      JavaSparkContext sc, ScoringInput input, ScoringNetwork model, int batchSize) {
    Broadcast<ScoringNetwork> net = sc.broadcast(model);
    int threads = threadsPerTask(sc);
    String where = input.description();
    JavaRDD<Scored> scored =
        input
            .items()
            .mapPartitions(
                it ->
                    BatchScorer.score(
                        net.value(),
                        it,
                        ScoringInput.Item::features,
                        (item, out) -> new Scored(item.index, item.path, item.label, out),
                        batchSize,
                        threads,
                        where));
    return new Result(scored, net);
  }

  /** The scored examples and the broadcast that carries the network. */
  public record Result(JavaRDD<Scored> scored, Broadcast<ScoringNetwork> broadcast) {}
}
