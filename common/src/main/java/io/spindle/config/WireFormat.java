package io.spindle.config;

import java.nio.ByteBuffer;

/**
 * How float vectors travel between peers. {@code FP32} is exact; {@code BF16} sends the upper 16
 * bits of each float (rounded to nearest even), halving the bytes at about 3 significant digits.
 * Sums are always accumulated in fp32 on the receiver. Values travel little-endian (the byte order
 * of the buffers passed in, which callers set), so that on x86 and ARM the fp32 encoding is a bulk
 * copy.
 */
public enum WireFormat implements ConfigEnum {
  FP32(4),
  BF16(2);

  private final int bytesPerValue;

  WireFormat(int bytesPerValue) {
    this.bytesPerValue = bytesPerValue;
  }

  public int bytesPerValue() {
    return bytesPerValue;
  }

  /** Writes {@code values[from, from+len)} into {@code out} (position advanced). */
  public void encode(float[] values, int from, int len, ByteBuffer out) {
    if (this == FP32) {
      out.asFloatBuffer().put(values, from, len);
      out.position(out.position() + 4 * len);
      return;
    }
    for (int i = from; i < from + len; i++) {
      out.putShort(toBf16(values[i]));
    }
  }

  /**
   * Adds the {@code len} values in {@code in} to {@code target[from...]}; {@code scratch} (at least
   * {@code len} long) takes the decoded values on the way.
   */
  public void addInto(ByteBuffer in, float[] target, int from, int len, float[] scratch) {
    if (this == FP32) {
      in.asFloatBuffer().get(scratch, 0, len);
      in.position(in.position() + 4 * len);
      for (int i = 0; i < len; i++) {
        target[from + i] += scratch[i];
      }
      return;
    }
    for (int i = from; i < from + len; i++) {
      target[i] += fromBf16(in.getShort());
    }
  }

  /** Copies the {@code len} values in {@code in} over {@code target[from...]}. */
  public void copyInto(ByteBuffer in, float[] target, int from, int len) {
    if (this == FP32) {
      in.asFloatBuffer().get(target, from, len);
      in.position(in.position() + 4 * len);
      return;
    }
    for (int i = from; i < from + len; i++) {
      target[i] = fromBf16(in.getShort());
    }
  }

  public static short toBf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if ((bits & 0x7fffffff) > 0x7f800000) {
      return (short) ((bits >>> 16) | 0x40); // keep NaN a NaN
    }
    int rounding = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  public static float fromBf16(short s) {
    return Float.intBitsToFloat((s & 0xffff) << 16);
  }
}
