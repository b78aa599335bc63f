package io.spindle.config;

/**
 * How the run is spread over Spark.
 *
 * @param master Spark master URL; empty means: take it from spark-submit, or local[workers] when
 *     there is none
 * @param workers number of data-parallel workers (Spark tasks per step)
 * @param sync gradient_sharing or parameter_averaging
 * @param averagingSteps K, local steps between averaging rounds (parameter_averaging only)
 * @param threadsPerWorker ND4J threads each worker uses (0 = cores of the machine / workers, at
 *     least 1)
 */
public record ClusterConfig(
    String master, int workers, SyncMode sync, int averagingSteps, int threadsPerWorker)
    implements java.io.Serializable {
  public ClusterConfig {
    master = master == null ? "" : master.trim();
    Check.positive("workers", workers);
    Check.notNull("sync", sync);
    Check.positive("averagingSteps", averagingSteps);
    Check.nonNegative("threadsPerWorker", threadsPerWorker);
  }
}
