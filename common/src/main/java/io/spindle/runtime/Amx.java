package io.spindle.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Lets oneDNN 2.3 (inside nd4j-native 1.0.0-M2.1) run its AMX-BF16 kernels in this JVM, with
 * nothing installed on the host: the one place Spindle changes the process's native environment for
 * bf16 compute ({@code model.precision: bf16}, see {@code docs/bf16.md}).
 *
 * <p>Two things stand between oneDNN and AMX. (1) Linux (5.16 and later) lets a process use AMX
 * tile data only after it asked ({@code arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)});
 * oneDNN 2.3 does not ask, and without it the JVM dies with SIGILL in the first AMX kernel. (2)
 * oneDNN 2.3 limits itself to AVX512_CORE_BF16 unless {@code DNNL_MAX_CPU_ISA} allows more; it
 * reads the variable once, at its first ISA query (the first primitive it creates in the process).
 * Both are done by a small JNI library ({@code src/main/c/spindleamx.c}), built with gcc by the
 * common module's POM into the jar under {@link #RESOURCE} and loaded from there, so it loads on a
 * cluster's executors from the application jar with no flags.
 *
 * <p>{@link #enable} is idempotent and never throws: it returns why AMX is not usable (no Linux
 * x86-64, no AMX-BF16 in {@code /proc/cpuinfo}, no library in the jar, the kernel refused, the ISA
 * was already fixed by an earlier oneDNN call). Whether oneDNN then really runs AMX is for the
 * caller to check by timing (bf16 without AMX is slower than float32, so it is the figure that
 * matters): see {@code Bf16Matmul.probe} in {@code io.spindle.model.fast}.
 */
public final class Amx {
  /** Where the JNI library sits in the jar. */
  public static final String RESOURCE = "/io/spindle/runtime/linux-x86_64/libspindleamx.so";

  /** oneDNN's variable for the highest instruction set it may use, and the value for AMX. */
  public static final String ISA_VARIABLE = "DNNL_MAX_CPU_ISA";

  public static final String ISA_AMX = "AVX512_CORE_AMX";

  private static String status; // null: not tried; "": enabled; else why not

  private Amx() {}

  /**
   * Requests AMX tile permission for the process and sets {@code DNNL_MAX_CPU_ISA} for oneDNN (once
   * per JVM); returns null when both are done, else one line saying why AMX is not usable.
   */
  public static synchronized String enable() {
    if (status == null) {
      status = tryEnable();
    }
    return status.isEmpty() ? null : status;
  }

  private static String tryEnable() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
      return "AMX needs Linux on x86-64, this JVM runs on " + os + "/" + arch;
    }
    if (!cpuHasAmxBf16()) {
      return "the CPU has no AMX-BF16 (no amx_bf16/amx_tile in /proc/cpuinfo)";
    }
    String given = System.getenv(ISA_VARIABLE);
    if (given != null && !given.equalsIgnoreCase(ISA_AMX)) {
      return ISA_VARIABLE
          + " is set to "
          + given
          + " in the environment (AMX needs "
          + ISA_AMX
          + ")";
    }
    String loaded = loadLibrary();
    if (loaded != null) {
      return loaded;
    }
    int err = requestTileData();
    if (err != 0) {
      return "Linux refused the AMX tile permission (arch_prctl(ARCH_REQ_XCOMP_PERM) errno "
          + err
          + "; kernel 5.16 or later is needed)";
    }
    if (given == null) {
      int e = setenv(ISA_VARIABLE, ISA_AMX);
      if (e != 0) {
        return "setenv(" + ISA_VARIABLE + ") failed with errno " + e;
      }
    }
    return "";
  }

  /** Whether {@code /proc/cpuinfo} lists the AMX tile and bf16 flags. */
  public static boolean cpuHasAmxBf16() {
    try {
      String info = Files.readString(Path.of("/proc/cpuinfo"));
      return info.contains(" amx_bf16") && info.contains(" amx_tile");
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static String loadLibrary() {
    try (InputStream in = Amx.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        return "this build of Spindle has no AMX library ("
            + RESOURCE
            + "; gcc was not found when it was built)";
      }
      Path file = Files.createTempFile("spindleamx", ".so");
      try {
        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        System.load(file.toAbsolutePath().toString());
      } finally {
        Files.deleteIfExists(file); // the mapping stays valid after unlink
      }
      return null;
    } catch (IOException | UnsatisfiedLinkError | SecurityException e) {
      return "cannot load the AMX library " + RESOURCE + ": " + e;
    }
  }

  private static native int requestTileData();

  private static native int setenv(String name, String value);
}
