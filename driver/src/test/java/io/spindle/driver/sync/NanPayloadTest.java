package io.spindle.driver.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.spindle.tensor.FlatVector;
import io.spindle.worker.collective.StickyState;
import org.apache.spark.SparkConf;
import org.apache.spark.serializer.KryoSerializer;
import org.apache.spark.serializer.SerializerInstance;
import org.junit.jupiter.api.Test;
import scala.reflect.ClassTag;

/**
 * The round's two state paths carry the same bits, NaN payloads included: the raw path copies them
 * ({@code RoundStateServiceTest}), and Spark 3.5's Kryo, though Kryo's own {@code
 * Output.writeFloat} goes through {@code floatToIntBits} (which would replace every NaN by {@code
 * 0x7fc00000}), round-trips a {@link FlatVector} bit for bit here too (measured: the assertion
 * below failed when it expected canonical NaNs). So a value has the same SHA-256 whichever way it
 * came, and the driver commits the same bits with the rendezvous on or off.
 */
class NanPayloadTest {
  @Test
  void sparksKryoKeepsNanPayloadsAsTheRawPathDoes() {
    int[] bits = {0x7fc00001, 0x3f800000, 0xffbadbad, 0x7f800001, 0x80000000, 0x00000001};
    float[] f = new float[bits.length];
    for (int i = 0; i < bits.length; i++) {
      f[i] = Float.intBitsToFloat(bits[i]);
    }
    FlatVector raw = FlatVector.of(f);
    SerializerInstance kryo =
        new KryoSerializer(new SparkConf(false).set("spark.kryo.registrationRequired", "false"))
            .newInstance();
    ClassTag<FlatVector> tag = scala.reflect.ClassTag$.MODULE$.apply(FlatVector.class);
    FlatVector back = kryo.deserialize(kryo.serialize(raw, tag), tag);
    float[] b = back.toFloatArray();
    for (int i = 0; i < bits.length; i++) {
      assertEquals(bits[i], Float.floatToRawIntBits(b[i]), "value " + i);
    }
    assertEquals(StickyState.digest(raw), StickyState.digest(back));
  }
}
