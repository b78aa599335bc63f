package io.spindle.model.fast;

import io.spindle.config.ModelConfig;
import io.spindle.config.Precision;
import io.spindle.runtime.Amx;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether bf16 products pay in this JVM, decided once per JVM, and the precision a model's step
 * computes in ({@code model.precision: bf16}, {@code docs/bf16.md}).
 *
 * <p>bf16 pays only where oneDNN runs it on AMX: on AVX512_BF16 alone oneDNN 2.3's bf16 matmul is
 * 0.55-0.65x its float32 one. So the verdict is: {@link Amx#enable} (the tile permission and
 * oneDNN's ISA setting), then a probe that times one float32 and one bf16 product at an MLP layer's
 * shape (128 x 800 x 800, best of a few, about 20 ms) on the calling thread; bf16 runs only when it
 * is at least {@link #MIN_SPEEDUP} times as fast. Otherwise every bf16 model computes in float32
 * and the JVM logs one warning line saying why. The probe also catches the case no flag can: the
 * ISA fixed without AMX by an earlier oneDNN call in the JVM (oneDNN reads it once).
 */
public final class Bf16Products {
  private static final Logger LOG = LoggerFactory.getLogger(Bf16Products.class);

  /** How much faster than float32 the bf16 probe product must be for bf16 to run. */
  static final double MIN_SPEEDUP = 1.5;

  private static String verdict; // null: not decided; "": usable; else why not
  private static final Set<String> WARNED = new HashSet<>();

  private Bf16Products() {}

  /** Null when bf16 products pay in this JVM (AMX enabled and faster), else why not (one line). */
  public static synchronized String unavailable() {
    if (verdict == null) {
      String amx = Amx.enable();
      verdict = amx != null ? amx : judge(probe());
    }
    return verdict.isEmpty() ? null : verdict;
  }

  /**
   * "" when the probe's bf16 product ({@code times[1]} ms) is at least {@link #MIN_SPEEDUP} times
   * as fast as its float32 one ({@code times[0]} ms), else why not.
   */
  static String judge(double[] times) {
    double speedup = times[0] / times[1];
    if (speedup >= MIN_SPEEDUP) {
      return "";
    }
    return String.format(
        Locale.ROOT,
        "oneDNN's bf16 product is %.2fx its float32 one here (%.3f ms vs %.3f ms at 128x800x800),"
            + " needs %.1fx: AMX is not in use (was oneDNN already used in this JVM before"
            + " %s was set?)",
        speedup,
        times[1],
        times[0],
        MIN_SPEEDUP,
        Amx.ISA_VARIABLE);
  }

  /** Best float32 and bf16 milliseconds of a 128 x 800 x 800 product on the calling thread. */
  static double[] probe() {
    // operands from a generator of its own, never ND4J's process-wide one
    java.util.SplittableRandom rng = new java.util.SplittableRandom(128_800_800L);
    INDArray a = uniform(rng, 128, 800);
    INDArray b = uniform(rng, 800, 800);
    INDArray c = Nd4j.create(DataType.FLOAT, 128, 800);
    INDArray a16 = a.castTo(DataType.BFLOAT16);
    INDArray b16 = b.castTo(DataType.BFLOAT16);
    INDArray c16 = Nd4j.create(DataType.BFLOAT16, 128, 800);
    double f32 = Double.MAX_VALUE;
    double bf16 = Double.MAX_VALUE;
    for (int i = 0; i < 8; i++) {
      long t = System.nanoTime();
      DenseStack.matmul(a, b, c, false, false);
      long u = System.nanoTime();
      DenseStack.matmul(a16, b16, c16, false, false);
      long v = System.nanoTime();
      f32 = Math.min(f32, (u - t) / 1e6);
      bf16 = Math.min(bf16, (v - u) / 1e6);
    }
    return new double[] {f32, bf16};
  }

  private static INDArray uniform(java.util.SplittableRandom rng, int rows, int cols) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rng.nextDouble();
    }
    return Nd4j.create(v, new long[] {rows, cols}, DataType.FLOAT);
  }

  /**
   * The precision {@code model}'s products compute in: bf16 only for a bf16 model on the fast dense
   * path ({@code denseFast}) in a JVM where bf16 pays; float32 for every other bf16 model, with one
   * warning line per reason and JVM; the model's own precision otherwise.
   */
  public static Precision effective(ModelConfig model, boolean denseFast) {
    if (model.precision() != Precision.BF16) {
      return model.precision();
    }
    if (!denseFast) {
      warnOnce(
          "model.precision is bf16, but bf16 products cover only the fast dense path (an MLP of"
              + " dense relu/identity layers under a softmax output, model.kernels auto or fast):"
              + " this model computes in float32");
      return Precision.FLOAT32;
    }
    String why = unavailable();
    if (why != null) {
      warnOnce("model.precision is bf16, but " + why + ": computing in float32");
      return Precision.FLOAT32;
    }
    return Precision.BF16;
  }

  /**
   * The precision {@code model}'s products compute in, in this JVM, on {@code numInputs} features:
   * {@link #effective(ModelConfig, boolean)} with the fast dense path where the model's kernels are
   * the fast ones (for the run's summary).
   */
  public static Precision effective(ModelConfig model, int numInputs) {
    boolean denseFast =
        model.kernels() != io.spindle.config.Kernels.DL4J
            && FastPath.unsupported(model, numInputs) == null
            && FastDenseNet.supports(model)
            && io.spindle.runtime.Nd4jRuntime.hasOneDnn();
    return effective(model, denseFast);
  }

  private static synchronized void warnOnce(String line) {
    if (WARNED.add(line)) {
      LOG.warn(line);
    }
  }
}
