package io.spindle.model.fast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.spindle.config.Activation;
import io.spindle.config.LayerConfig;
import io.spindle.config.LayerType;
import io.spindle.config.Loss;
import io.spindle.config.ModelConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.WeightInit;
import io.spindle.model.ModelFactory;
import io.spindle.model.StepKey;
import io.spindle.optim.FlatOptimizer;
import io.spindle.runtime.Amx;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * bf16 products in the fast dense path ({@code model.precision: bf16}) against float32.
 *
 * <p>The bf16 path itself runs on any CPU (oneDNN without AMX computes bf16 too, only slower), so
 * its numbers are checked everywhere; the AMX verdict is checked in a fresh JVM where the CPU has
 * AMX-BF16. Tolerances: one bf16 gradient differs from float32's by at most {@value #GRAD_REL} of
 * its norm (bf16 keeps 8 significant bits, at most 2^-9 relative per rounding; the operands of
 * three layers' products and their results are rounded, and the summed gradient cancels much of its
 * terms: 2.2% measured); after {@value #STEPS} Adam steps on a learnable problem, the two runs'
 * losses differ by at most {@value #LOSS_ATOL} at every step and both end at least halfway down
 * from the first loss.
 */
class Bf16ProductsTest {
  static final double GRAD_REL = 5e-2; // measured: 2.2% (this test), 1.9% (batch 256)
  static final double LOSS_ATOL = 0.03;
  static final int STEPS = 30;

  private static ModelConfig model(int h1, int h2, int out, double p, Precision precision) {
    return new ModelConfig(
        List.of(
            new LayerConfig(LayerType.DENSE, h1, Activation.RELU, 0.0, null),
            new LayerConfig(LayerType.DENSE, h2, Activation.RELU, p, null),
            new LayerConfig(LayerType.OUTPUT, out, Activation.SOFTMAX, p, Loss.CROSS_ENTROPY)),
        WeightInit.HE_NORMAL,
        0.0,
        0.0,
        precision);
  }

  /** Features whose class is decided by the sign pattern of a fixed projection (learnable). */
  private static float[] features(Random r, int rows, int cols, int[] labels, int classes) {
    float[] f = new float[rows * cols];
    for (int i = 0; i < rows; i++) {
      int y = r.nextInt(classes);
      labels[i] = y;
      for (int c = 0; c < cols; c++) {
        f[i * cols + c] = (float) (r.nextGaussian() * 0.5 + (c % classes == y ? 1.0 : 0.0));
      }
    }
    return f;
  }

  private static double norm(float[] a) {
    double s = 0;
    for (float v : a) {
      s += (double) v * v;
    }
    return Math.sqrt(s);
  }

  private static double relDiff(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      double d = a[i] - b[i];
      s += d * d;
    }
    return Math.sqrt(s) / norm(a);
  }

  private static float[] grads(MultiLayerNetwork net) {
    return net.getFlattenedGradients().dup().data().asFloat();
  }

  @Test
  void roundsToTheNearestBf16TiesToEven() {
    assertEquals((short) 0x3F80, DenseStack.toBf16(1.0f));
    assertEquals((short) 0xBF80, DenseStack.toBf16(-1.0f));
    assertEquals((short) 0x0000, DenseStack.toBf16(0.0f));
    // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even one, 1
    assertEquals((short) 0x3F80, DenseStack.toBf16(1.0f + 0x1p-8f));
    // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one
    assertEquals((short) 0x3F82, DenseStack.toBf16(1.0f + 3 * 0x1p-8f));
    // just above half way rounds up, just below rounds down
    assertEquals((short) 0x3F81, DenseStack.toBf16(1.0f + 0x1p-8f + 0x1p-20f));
    assertEquals((short) 0x3F80, DenseStack.toBf16(1.0f + 0x1p-8f - 0x1p-20f));
    Random r = new Random(1);
    for (int i = 0; i < 10_000; i++) {
      float v = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(20) - 10));
      float back = Float.intBitsToFloat(DenseStack.toBf16(v) << 16);
      assertTrue(Math.abs(back - v) <= Math.abs(v) * 0x1p-8f, v + " -> " + back);
    }
  }

  @Test
  void oneBf16GradientIsCloseToFloat32s() {
    ModelConfig m32 = model(800, 800, 10, 0.0, Precision.FLOAT32);
    ModelConfig m16 = m32.withPrecision(Precision.BF16);
    MultiLayerNetwork a = ModelFactory.create(m32, 784, 7);
    MultiLayerNetwork b = ModelFactory.create(m16, 784, 7);
    FastDenseNet f32 = FastDenseNet.of(a, m32, 128);
    FastDenseNet bf16 = FastDenseNet.of(b, m16, 128, true);
    assertEquals(Precision.BF16, bf16.precision());
    assertEquals(Precision.FLOAT32, f32.precision());
    Random r = new Random(3);
    int[] y = new int[128];
    float[] f = features(r, 128, 784, y, 10);
    double l32 = f32.computeGradient(f, y, 128, new StepKey(42, 0, 0));
    double l16 = bf16.computeGradient(f, y, 128, new StepKey(42, 0, 0));
    assertEquals(l32, l16, 1e-2 * l32, "loss");
    assertEquals(f32.correct(), bf16.correct(), 3, "correct predictions");
    double rel = relDiff(grads(a), grads(b));
    assertTrue(rel > 0, "bf16 products gave float32's exact gradient: were they bf16?");
    assertTrue(rel < GRAD_REL, "gradient differs by " + rel + " of its norm");
  }

  @Test
  void bf16TrainingFollowsFloat32sTrajectory() {
    ModelConfig m32 = model(96, 64, 10, 0.2, Precision.FLOAT32);
    ModelConfig m16 = m32.withPrecision(Precision.BF16);
    MultiLayerNetwork a = ModelFactory.create(m32, 60, 13);
    MultiLayerNetwork b = ModelFactory.create(m16, 60, 13);
    assertArrayEquals(a.params().data().asFloat(), b.params().data().asFloat());
    FastDenseNet f32 = FastDenseNet.of(a, m32, 64);
    FastDenseNet bf16 = FastDenseNet.of(b, m16, 64, true);
    OptimizerConfig adam = OptimizerConfig.of(OptimizerType.ADAM, 0.003);
    FlatOptimizer oa = FlatOptimizer.create(adam, a.numParams(), DataType.FLOAT);
    FlatOptimizer ob = FlatOptimizer.create(adam, b.numParams(), DataType.FLOAT);
    Random r = new Random(17);
    int[] y = new int[64];
    double first = 0;
    double l32 = 0;
    double l16 = 0;
    for (int step = 0; step < STEPS; step++) {
      float[] f = features(r, 64, 60, y, 10);
      l32 = f32.computeGradient(f, y, 64, new StepKey(5, step, 0));
      l16 = bf16.computeGradient(f, y, 64, new StepKey(5, step, 0));
      if (step == 0) {
        first = l32;
      }
      assertEquals(l32, l16, LOSS_ATOL, "loss at step " + step);
      oa.step(a.params(), a.getFlattenedGradients().div(64), step);
      ob.step(b.params(), b.getFlattenedGradients().div(64), step);
    }
    assertTrue(l32 < first / 2, "float32 did not learn: " + first + " -> " + l32);
    assertTrue(l16 < first / 2, "bf16 did not learn: " + first + " -> " + l16);
    double rel = relDiff(a.params().data().asFloat(), b.params().data().asFloat());
    assertTrue(rel < 2e-2, "parameters after " + STEPS + " steps differ by " + rel);
  }

  @Test
  void theFallbackComputesExactlyWhatFloat32Computes() {
    ModelConfig m32 = model(40, 30, 6, 0.25, Precision.FLOAT32);
    ModelConfig m16 = m32.withPrecision(Precision.BF16);
    MultiLayerNetwork a = ModelFactory.create(m32, 20, 3);
    MultiLayerNetwork b = ModelFactory.create(m16, 20, 3);
    FastDenseNet f32 = FastDenseNet.of(a, m32, 16);
    FastDenseNet fallback = FastDenseNet.of(b, m16, 16, false);
    assertEquals(Precision.FLOAT32, fallback.precision());
    Random r = new Random(9);
    int[] y = new int[16];
    float[] f = features(r, 16, 20, y, 6);
    double l32 = f32.computeGradient(f, y, 16, new StepKey(1, 0, 0));
    double lf = fallback.computeGradient(f, y, 16, new StepKey(1, 0, 0));
    assertEquals(l32, lf, 0.0);
    assertArrayEquals(grads(a), grads(b));
  }

  @Test
  void onlyABf16ModelOnTheFastDensePathComputesInBf16() {
    ModelConfig m32 = model(8, 8, 3, 0.0, Precision.FLOAT32);
    assertEquals(Precision.FLOAT32, Bf16Products.effective(m32, true));
    assertEquals(
        Precision.FLOAT64, Bf16Products.effective(m32.withPrecision(Precision.FLOAT64), true));
    // bf16 outside the fast dense path (convolutions, DL4J's layers): float32, without a probe
    assertEquals(
        Precision.FLOAT32, Bf16Products.effective(m32.withPrecision(Precision.BF16), false));
  }

  @Test
  void theVerdictNeedsBf16ToBeClearlyFaster() {
    assertEquals("", Bf16Products.judge(new double[] {1.4, 0.35}));
    String slow = Bf16Products.judge(new double[] {1.4, 2.2});
    assertTrue(slow.contains("0.64x") && slow.contains(Amx.ISA_VARIABLE), slow);
    assertTrue(!Bf16Products.judge(new double[] {1.0, 0.8}).isEmpty(), "1.25x is not enough");
  }

  /**
   * In a fresh JVM (oneDNN not yet used) on a CPU with AMX-BF16, the verdict is that bf16 pays: the
   * tile permission, the ISA setting and the probe all work from inside the JVM. On a CPU without
   * AMX the verdict names the reason and bf16 falls back.
   */
  @Test
  void aFreshJvmEnablesAmxWhereTheCpuHasIt() throws Exception {
    String java =
        System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    Process p =
        new ProcessBuilder(
                java,
                "-Xmx512m",
                "-cp",
                System.getProperty("java.class.path"),
                Bf16Verdict.class.getName())
            .redirectErrorStream(true)
            .start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the probe JVM did not finish in 120 s");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    String verdict = out.lines().filter(l -> l.startsWith("verdict: ")).findFirst().orElse(null);
    assertNotNull(verdict, out);
    if (Amx.cpuHasAmxBf16()) {
      assertEquals("verdict: bf16", verdict, out);
    } else {
      assertTrue(verdict.contains("no AMX-BF16") || verdict.contains("Linux"), verdict);
    }
  }

  @Test
  void theAmxVerdictIsDecidedOnceAndExplainsItself() {
    assumeTrue(!Amx.cpuHasAmxBf16(), "covered by aFreshJvmEnablesAmxWhereTheCpuHasIt here");
    String why = Bf16Products.unavailable();
    assertNotNull(why);
    assertTrue(why.contains("AMX"), why);
  }
}
