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
   * Binds the calling thread's ND4J work to the accelerator with the given address (Spark's GPU
   * address, a device ordinal such as {@code "0"}). This is the only place Spindle selects a
   * device; the worker calls it at the start of every task with the address Spark assigned to that
   * task ({@code TaskContext.resources().get("gpu")}). On the CPU backend there is one device and
   * nothing to bind: the address is only recorded. Returns what was done, for logs and reports.
   */
  public static String bindDevice(String address) {
    int ordinal;
    try {
      ordinal = Integer.parseInt(address.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "GPU address must be a device ordinal such as 0, got '" + address + "'", e);
    }
    int devices = Nd4j.getAffinityManager().getNumberOfDevices();
    String backend = Nd4j.getBackend().getClass().getSimpleName();
    if (backend.startsWith("Cpu") || devices <= 1 && ordinal == 0) {
      return "recorded (" + backend + ", nothing to bind)";
    }
    if (ordinal >= devices) {
      throw new IllegalStateException(
          "Spark assigned GPU " + ordinal + " but ND4J sees " + devices + " device(s)");
    }
    Nd4j.getAffinityManager().unsafeSetDevice(ordinal);
    return "bound to device " + ordinal;
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
