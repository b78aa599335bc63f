package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.runtime.Nd4jRuntime;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What the bf16 peak times is a real bf16 product: libnd4j's matmul op on bfloat16 operands gives
 * the float32 product of the same (rounded) operands within bf16's rounding of the result, and the
 * peak is a finite positive rate. Which kernel runs (AMX or not) is the JVM's business; no speed is
 * asserted.
 */
class Bf16PeakTest {
  @Test
  void theTimedProductIsABf16ProductOfTheOperands() {
    Nd4jRuntime.configureThreads(1);
    SplittableRandom rng = new SplittableRandom(7);
    INDArray a = Bf16Peak.uniform(rng, 48, 80).castTo(DataType.BFLOAT16);
    INDArray b = Bf16Peak.uniform(rng, 80, 32).castTo(DataType.BFLOAT16);
    INDArray c = Nd4j.create(DataType.BFLOAT16, 48, 32);
    Bf16Peak.product(a, b, c);
    assertEquals(DataType.BFLOAT16, c.dataType());
    // the reference: the same bf16 values, multiplied in float32
    INDArray expected = a.castTo(DataType.FLOAT).mmul(b.castTo(DataType.FLOAT));
    INDArray got = c.castTo(DataType.FLOAT);
    double relative =
        got.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
    // one bf16 rounding of each result (8 significant bits): at most 2^-8 relative per entry
    assertTrue(relative < 1.0 / 256, "relative error " + relative);
  }

  @Test
  void thePeakIsAFinitePositiveRate() {
    double rate = Bf16Peak.nd4jPeak(64, 2);
    assertTrue(Double.isFinite(rate) && rate > 0, "rate " + rate);
  }
}
