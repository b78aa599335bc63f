package io.spindle.runtime;

import java.util.concurrent.atomic.AtomicInteger;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where Spindle touches ND4J's process-wide settings: the number of threads ND4J's
 * native ops and BLAS use in this JVM. Everything else passes seeds and arrays explicitly.
 *
 * <p>Small matrix products (an MLP at batch 256) run faster on one thread than on two, and several
 * Spark tasks of one executor share its cores, so the worker count and the threads per worker
 * together decide speed.
 */
public final class Nd4jRuntime {
  private static final Logger LOG = LoggerFactory.getLogger(Nd4jRuntime.class);
  private static final AtomicInteger CONFIGURED = new AtomicInteger(0);

  private Nd4jRuntime() {}

  /** Threads per worker: the explicit setting, or cores / concurrent workers (at least 1). */
  public static int threadsFor(int configured, int concurrentWorkers) {
    if (configured > 0) {
      return configured;
    }
    int cores = Runtime.getRuntime().availableProcessors();
    return Math.max(1, cores / Math.max(1, concurrentWorkers));
  }

  /**
   * Sets ND4J's and BLAS's thread counts once per JVM; later calls with the same value are free.
   */
  public static void configureThreads(int threads) {
    if (threads <= 0) {
      throw new IllegalArgumentException("threads must be > 0, got " + threads);
    }
    if (CONFIGURED.getAndSet(threads) == threads) {
      return;
    }
    Nd4j.getEnvironment().setMaxThreads(threads);
    Nd4j.getEnvironment().setMaxMasterThreads(threads);
    Nd4j.factory().blas().setMaxThreads(threads);
    LOG.info("ND4J uses {} thread(s) per op in this JVM", threads);
  }
}
