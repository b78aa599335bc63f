package io.spindle.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where Spindle touches ND4J's process-wide settings: which build of ND4J's native
 * library this JVM loads, and the number of threads ND4J's native ops and BLAS use. Everything else
 * passes seeds and arrays explicitly.
 *
 * <p>Small matrix products (an MLP at batch 256) run faster on one thread than on two, and several
 * Spark tasks of one executor share its cores, so the worker count and the threads per worker
 * together decide speed.
 */
public final class Nd4jRuntime {
  private static final Logger LOG = LoggerFactory.getLogger(Nd4jRuntime.class);
  private static final AtomicInteger CONFIGURED = new AtomicInteger(0);
  private static final ThreadLocal<Integer> THREAD_OMP = new ThreadLocal<>();

  /** JavaCPP's system property naming the build (platform extension) of a native library. */
  public static final String PLATFORM_EXTENSION = "org.bytedeco.javacpp.platform.extension";

  private static final String BUILD_RESOURCE = "/io/spindle/runtime/nd4j-build.properties";

  private Nd4jRuntime() {}

  /**
   * Selects the build of ND4J's native library that this package holds: by default nd4j-native
   * built with oneDNN (classifier {@code linux-x86_64-onednn}), whose libraries JavaCPP only finds
   * under the platform extension {@code -onednn}. It must run before ND4J loads in the JVM, so
   * Spindle's command-line mains and its executor plugin call it first; a value given with {@code
   * -Dorg.bytedeco.javacpp.platform.extension} wins. Returns the extension in effect ("" = the
   * plain build). JavaCPP falls back to the plain directory for libraries without that build
   * (OpenBLAS), so the setting is harmless where it does not apply.
   */
  public static synchronized String selectNativeBuild() {
    String given = System.getProperty(PLATFORM_EXTENSION);
    if (given != null) {
      return given;
    }
    String packed = packedExtension();
    if (!packed.isEmpty()) {
      System.setProperty(PLATFORM_EXTENSION, packed);
    }
    return packed;
  }

  /** The platform extension recorded at build time ({@code nd4j.native.variant} in the POM). */
  public static String packedExtension() {
    try (InputStream in = Nd4jRuntime.class.getResourceAsStream(BUILD_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            "expected the resource " + BUILD_RESOURCE + " in spindle-common; it is missing");
      }
      Properties p = new Properties();
      p.load(in);
      String ext = p.getProperty("platform.extension", "").trim();
      if (ext.contains("${")) {
        throw new IllegalStateException(
            BUILD_RESOURCE + " was not filtered by Maven: platform.extension=" + ext);
      }
      return ext;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + BUILD_RESOURCE, e);
    }
  }

  private static boolean cpuBackend() {
    return Nd4j.getBackend().getClass().getSimpleName().startsWith("Cpu");
  }

  /** Whether the loaded ND4J native library was built with oneDNN. */
  public static boolean hasOneDnn() {
    return OneDnn.PRESENT;
  }

  private static final class OneDnn {
    static final boolean PRESENT =
        cpuBackend()
            && org.nd4j.nativeblas.NativeOpsHolder.getInstance()
                .getDeviceNativeOps()
                .buildInfo()
                .contains("HAVE_ONEDNN");
  }

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
    if (cpuBackend() || devices <= 1 && ordinal == 0) {
      return "recorded (" + Nd4j.getBackend().getClass().getSimpleName() + ", nothing to bind)";
    }
    if (ordinal >= devices) {
      throw new IllegalStateException(
          "Spark assigned GPU " + ordinal + " but ND4J sees " + devices + " device(s)");
    }
    Nd4j.getAffinityManager().unsafeSetDevice(ordinal);
    return "bound to device " + ordinal;
  }

  /**
   * Sets ND4J's and BLAS's thread counts for the JVM, and the OpenMP team size of the calling
   * thread; later calls with the same value are free.
   *
   * <p>The matrix products ({@code Nd4j.gemm}, {@code mmul}: libnd4j's matmul op) and the
   * convolution, pooling and batch-norm kernels run on oneDNN, which sizes its OpenMP team by the
   * calling thread's {@code omp_set_num_threads} (all cores by default), not by ND4J's thread
   * setting. That setting is per thread, so every thread doing ND4J work (each Spark task) must
   * call this; without it a "1-thread" worker's products ran on every core, and two workers on two
   * cores ran four threads.
   */
  public static void configureThreads(int threads) {
    if (threads <= 0) {
      throw new IllegalArgumentException("threads must be > 0, got " + threads);
    }
    if (!Integer.valueOf(threads).equals(THREAD_OMP.get())) {
      if (cpuBackend()) {
        org.nd4j.nativeblas.NativeOpsHolder.getInstance()
            .getDeviceNativeOps()
            .setOmpNumThreads(threads);
      }
      THREAD_OMP.set(threads);
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
