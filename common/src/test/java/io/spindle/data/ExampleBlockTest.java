package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExampleBlockTest {

  private static List<Example> pixels(int n, int from) {
    List<Example> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] px = new byte[12];
      for (int j = 0; j < px.length; j++) {
        px[j] = (byte) (i * 37 + j * 11 + 200);
      }
      out.add(Example.ofPixels(from + i, px, i % 10, 3, 2, 2));
    }
    return out;
  }

  private static List<Example> blocksRoundTrip(List<ExampleBlock> blocks) {
    List<Example> out = new ArrayList<>();
    for (ExampleBlock b : blocks) {
      b.examples().forEachRemaining(out::add);
    }
    return out;
  }

  private static void assertSameExample(Example a, Example b) {
    assertEquals(a.index(), b.index());
    assertEquals(a.label(), b.label());
    assertEquals(a.target(), b.target());
    assertEquals(a.isEncoded(), b.isEncoded());
    assertArrayEquals(
        new int[] {a.channels(), a.height(), a.width()},
        new int[] {b.channels(), b.height(), b.width()});
    assertArrayEquals(a.features(), b.features());
  }

  @Test
  void packsByRowsAndBytesAndGivesTheExamplesBack() {
    List<Example> in = pixels(10, 100);
    List<ExampleBlock> byRows = new ArrayList<>();
    ExampleBlock.pack(in.iterator(), 4, 1 << 20).forEachRemaining(byRows::add);
    assertEquals(List.of(4, 4, 2), byRows.stream().map(ExampleBlock::size).toList());
    List<ExampleBlock> byBytes = new ArrayList<>();
    ExampleBlock.pack(in.iterator(), 100, 30).forEachRemaining(byBytes::add); // 12 bytes per row
    assertEquals(List.of(2, 2, 2, 2, 2), byBytes.stream().map(ExampleBlock::size).toList());
    for (List<ExampleBlock> blocks : List.of(byRows, byBytes)) {
      List<Example> out = blocksRoundTrip(blocks);
      assertEquals(in.size(), out.size());
      for (int i = 0; i < in.size(); i++) {
        assertSameExample(in.get(i), out.get(i));
      }
    }
  }

  @Test
  void decodesPixelsExactlyAsExamplesDo() {
    Example e = pixels(1, 0).get(0);
    ExampleBlock b = ExampleBlock.of(List.of(e));
    float[] out = new float[14];
    b.copyFeatures(0, out, 2);
    float[] expected = new float[12];
    byte[] px = new byte[12];
    e.copyPixels(px, 0);
    for (int j = 0; j < 12; j++) {
      expected[j] = (px[j] & 0xFF) / 255f;
    }
    assertArrayEquals(expected, java.util.Arrays.copyOfRange(out, 2, 14));
    assertArrayEquals(expected, e.features());
  }

  @Test
  void aChangeOfShapeOrEncodingStartsANewBlock() {
    List<Example> in = new ArrayList<>(pixels(3, 0));
    in.add(new Example(3, new float[] {0.5f, Float.MIN_VALUE, -2f}, 1, 4.5f, 1, 1, 3));
    in.add(new Example(4, new float[] {1f, 2f, 3f}, 2, 1.5f, 1, 1, 3));
    List<ExampleBlock> blocks = new ArrayList<>();
    ExampleBlock.pack(in.iterator(), 100, 1 << 20).forEachRemaining(blocks::add);
    assertEquals(List.of(3, 2), blocks.stream().map(ExampleBlock::size).toList());
    assertTrue(blocks.get(1).isRegression());
    assertEquals(4, blocks.get(1).bytesPerFeature());
    List<Example> out = blocksRoundTrip(blocks);
    for (int i = 0; i < in.size(); i++) {
      assertSameExample(in.get(i), out.get(i));
    }
    assertThrows(IllegalArgumentException.class, () -> ExampleBlock.of(in));
  }

  @Test
  void selectKeepsTheChosenRowsInOrderWithNewIds() {
    List<Example> in = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      in.add(new Example(i, new float[] {i, i + 0.5f}, i, i * 2f, 1, 1, 2));
    }
    ExampleBlock b = ExampleBlock.of(in);
    ExampleBlock s = b.select(new int[] {4, 1, 3, 0}, new int[] {40, 10, 30, 0}, 3);
    assertEquals(3, s.size());
    float[] x = new float[6];
    int[] y = new int[3];
    float[] t = new float[3];
    for (int r = 0; r < 3; r++) {
      s.copyRow(r, x, r * 2, y, t, r);
    }
    assertArrayEquals(new int[] {40, 10, 30}, new int[] {s.id(0), s.id(1), s.id(2)});
    assertArrayEquals(new float[] {4f, 4.5f, 1f, 1.5f, 3f, 3.5f}, x);
    assertArrayEquals(new int[] {4, 1, 3}, y);
    assertArrayEquals(new float[] {8f, 2f, 6f}, t);
  }

  @Test
  void anEncodedMiniBatchGivesTheSameFeaturesAsFloats() {
    List<Example> px = pixels(3, 0);
    List<Example> floats = new ArrayList<>();
    for (Example e : px) {
      floats.add(new Example(e.index(), e.features(), e.label(), Float.NaN, 3, 2, 2));
    }
    MiniBatch encoded = MiniBatch.of(5, 12, px);
    MiniBatch decoded = MiniBatch.of(5, 12, floats);
    assertTrue(encoded.isEncoded());
    assertEquals(false, decoded.isEncoded());
    assertArrayEquals(decoded.features(), encoded.features());
    assertArrayEquals(decoded.labels(), encoded.labels());
    assertArrayEquals(new int[] {3, 2, 2}, encoded.shape());
    try (var a = encoded.featureArray(org.nd4j.linalg.api.buffer.DataType.FLOAT);
        var b = decoded.featureArray(org.nd4j.linalg.api.buffer.DataType.FLOAT)) {
      assertArrayEquals(new long[] {3, 12}, a.shape());
      assertArrayEquals(b.reshape(36).toFloatVector(), a.reshape(36).toFloatVector());
      assertArrayEquals(decoded.features(), a.reshape(36).toFloatVector());
    }
  }

  @Test
  void aLargeEncodedBatchDecodesIntoNativeMemoryExactly() {
    byte[] px = new byte[3 * 10000]; // several 8192-value pieces, the last one partial
    new java.util.Random(3).nextBytes(px);
    MiniBatch b = MiniBatch.ofPixels(0, 3, 10000, px, new int[] {1, 2, 3}, new int[] {1, 100, 100});
    float[] expected = new float[px.length];
    for (int i = 0; i < px.length; i++) {
      expected[i] = (px[i] & 0xFF) / 255f;
    }
    assertArrayEquals(expected, b.features());
    try (var a = b.featureArray(org.nd4j.linalg.api.buffer.DataType.FLOAT)) {
      assertArrayEquals(new long[] {3, 10000}, a.shape());
      assertArrayEquals(expected, a.reshape(px.length).toFloatVector());
    }
  }
}
