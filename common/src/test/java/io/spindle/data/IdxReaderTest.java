package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** IDX files the test writes itself, raw and gzip-compressed. */
class IdxReaderTest {
  static byte[] images(int magic, int count, int rows, int cols, byte[] pixels) {
    ByteBuffer b = ByteBuffer.allocate(16 + pixels.length);
    b.putInt(magic).putInt(count).putInt(rows).putInt(cols).put(pixels);
    return b.array();
  }

  static byte[] labels(int magic, byte[] values) {
    ByteBuffer b = ByteBuffer.allocate(8 + values.length);
    b.putInt(magic).putInt(values.length).put(values);
    return b.array();
  }

  static byte[] gzip(byte[] data) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
        gz.write(data);
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  static byte[] maybeGzip(byte[] data, boolean compressed) {
    return compressed ? gzip(data) : data;
  }

  static String error(Runnable r) {
    return assertThrows(DataFormatException.class, r::run).getMessage();
  }

  static void assertContains(String message, String... parts) {
    for (String p : parts) {
      assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
    }
  }

  @ParameterizedTest(name = "gzip {0}")
  @ValueSource(booleans = {false, true})
  void readsImagesAndLabels(boolean compressed) {
    byte[] pixels = {0, 1, 2, 3, 4, 5, (byte) 255, 7, 8, 9, 10, 11};
    IdxImages img =
        IdxReader.readImages(
            "img", new ByteArrayInputStream(maybeGzip(images(2051, 2, 2, 3, pixels), compressed)));
    assertEquals(2, img.count());
    assertEquals(2, img.rows());
    assertEquals(3, img.cols());
    assertArrayEquals(pixels, img.pixels());
    byte[] lab =
        IdxReader.readLabels(
            "lab",
            new ByteArrayInputStream(maybeGzip(labels(2049, new byte[] {3, 9, 0}), compressed)),
            10);
    assertArrayEquals(new byte[] {3, 9, 0}, lab);
  }

  @ParameterizedTest(name = "gzip {0}")
  @ValueSource(booleans = {false, true})
  void wrongMagicNamesFileOffsetAndBothNumbers(boolean compressed) {
    byte[] file = maybeGzip(labels(2051, new byte[] {1}), compressed);
    assertContains(
        error(() -> IdxReader.readLabels("train-labels", new ByteArrayInputStream(file), 10)),
        "train-labels offset 0",
        "expected IDX magic 2049",
        "found 2051");
    byte[] imgs = maybeGzip(images(2049, 1, 1, 1, new byte[] {1}), compressed);
    assertContains(
        error(() -> IdxReader.readImages("imgs", new ByteArrayInputStream(imgs))),
        "expected IDX magic 2051",
        "found 2049");
  }

  @ParameterizedTest(name = "gzip {0}")
  @ValueSource(booleans = {false, true})
  void truncatedDataNamesTheOffset(boolean compressed) {
    byte[] whole = images(2051, 3, 2, 2, new byte[12]);
    byte[] cut = maybeGzip(Arrays.copyOf(whole, 16 + 5), compressed);
    assertContains(
        error(() -> IdxReader.readImages("imgs", new ByteArrayInputStream(cut))),
        "imgs offset 21",
        "truncated",
        "expected 12 bytes of pixel data",
        "found 5");
    byte[] header = maybeGzip(Arrays.copyOf(whole, 6), compressed);
    assertContains(
        error(() -> IdxReader.readImages("imgs", new ByteArrayInputStream(header))),
        "imgs offset 4",
        "truncated");
  }

  @Test
  void truncatedGzipStreamIsReported() {
    byte[] gz = gzip(images(2051, 10, 28, 28, new byte[7840]));
    byte[] cut = Arrays.copyOf(gz, gz.length / 2);
    assertContains(
        error(() -> IdxReader.readImages("t10k-images", new ByteArrayInputStream(cut))),
        "t10k-images: file truncated",
        "compressed offset " + cut.length);
  }

  @Test
  void corruptGzipIsReported() {
    byte[] gz = gzip(images(2051, 10, 28, 28, new byte[7840]));
    for (int i = 20; i < 40; i++) {
      gz[i] ^= 0x5A;
    }
    assertContains(
        error(() -> IdxReader.readImages("t10k-images", new ByteArrayInputStream(gz))),
        "t10k-images: gzip member 1 is corrupt");
  }

  @Test
  void labelOutOfRangeNamesOffsetAndRange() {
    byte[] file = labels(2049, new byte[] {1, 2, 12, 3});
    assertContains(
        error(() -> IdxReader.readLabels("labels.gz", new ByteArrayInputStream(file), 10)),
        "labels.gz offset 10",
        "label 12 out of range [0, 10)");
  }

  @Test
  void trailingBytesAndAbsurdDimensionsAreRefused() {
    byte[] extra = Arrays.copyOf(labels(2049, new byte[] {1, 2}), 12);
    assertContains(
        error(() -> IdxReader.readLabels("l", new ByteArrayInputStream(extra), 10)),
        "l offset 10",
        "unexpected bytes");
    byte[] negative = images(2051, -1, 2, 2, new byte[0]);
    assertContains(
        error(() -> IdxReader.readImages("i", new ByteArrayInputStream(negative))),
        "i offset 4",
        "image count");
  }

  @Test
  void emptyFileIsTruncated() {
    assertContains(
        error(() -> IdxReader.readLabels("empty", new ByteArrayInputStream(new byte[0]), 10)),
        "empty offset 0",
        "truncated");
  }
}
