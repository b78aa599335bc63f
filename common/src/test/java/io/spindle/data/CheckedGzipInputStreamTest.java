package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.testing.TestDatasets;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;

/**
 * Every gzip member's CRC32 and ISIZE are checked; damage anywhere in the file (data, trailer,
 * header, what follows the last member) fails naming the file; and what the JDK's stream reads,
 * this one reads to the same bytes.
 */
class CheckedGzipInputStreamTest {
  static byte[] data(int n, long seed) {
    byte[] out = new byte[n];
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < n; i++) {
      out[i] = (byte) (i % 7 == 0 ? r.nextInt(256) : i / 97); // partly compressible
    }
    return out;
  }

  static byte[] gzip(byte[] data, int level) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (GZIPOutputStream gz =
          new GZIPOutputStream(out) {
            {
              def.setLevel(level);
            }
          }) {
        gz.write(data);
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  static byte[] readAll(byte[] file) throws IOException {
    try (InputStream in = new CheckedGzipInputStream("f.gz", new ByteArrayInputStream(file))) {
      return in.readAllBytes();
    }
  }

  static String failure(byte[] file) {
    return assertThrows(DataIntegrityException.class, () -> readAll(file)).getMessage();
  }

  static void assertContains(String message, String... parts) {
    for (String p : parts) {
      assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
    }
  }

  @Test
  void readsWhatTheJdkReadsAndVerifiesAtTheEnd() throws IOException {
    for (int n : new int[] {0, 1, 100, 70_000, 300_000}) {
      byte[] plain = data(n, n);
      byte[] gz = gzip(plain, Deflater.DEFAULT_COMPRESSION);
      assertArrayEquals(plain, readAll(gz), "size " + n);
      assertArrayEquals(new GZIPInputStream(new ByteArrayInputStream(gz)).readAllBytes(), plain);
      // byte by byte, through read()
      CheckedGzipInputStream in = new CheckedGzipInputStream("f", new ByteArrayInputStream(gz));
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) >= 0) {
        out.write(b);
      }
      assertArrayEquals(plain, out.toByteArray());
      assertTrue(in.verified());
      assertEquals(n, in.decompressedBytes());
    }
  }

  @Test
  void theRealMnistFileDecompressesAsTheJdkDoes() throws IOException {
    byte[] gz =
        Files.readAllBytes(TestDatasets.mirror().resolve("mnist/t10k-labels-idx1-ubyte.gz"));
    assertArrayEquals(
        new GZIPInputStream(new ByteArrayInputStream(gz)).readAllBytes(), readAll(gz));
  }

  @Test
  void nothingIsCheckedBeforeTheEndOfAMember() throws IOException {
    byte[] plain = data(200_000, 1);
    byte[] gz = gzip(plain, 0); // stored blocks: a flipped data byte still decodes
    gz[gz.length / 2] ^= 0x01;
    CheckedGzipInputStream in = new CheckedGzipInputStream("f", new ByteArrayInputStream(gz));
    byte[] first = in.readNBytes(1000);
    assertArrayEquals(Arrays.copyOf(plain, 1000), first);
    assertFalse(in.verified());
  }

  @Test
  void aFlippedByteThatStillDecodesFailsTheCrc32() {
    byte[] gz = gzip(data(200_000, 2), 0);
    int at = gz.length / 2;
    gz[at] ^= 0x01;
    assertContains(
        failure(gz),
        "f.gz: gzip member 1 is corrupt",
        "CRC32 of its 200000 decompressed bytes",
        "trailer (compressed offset " + (gz.length - 8) + ")");
  }

  @Test
  void aFlippedByteInHuffmanCodedDataFailsWhereverItIsDetected() {
    byte[] gz = gzip(data(300_000, 3), Deflater.DEFAULT_COMPRESSION);
    gz[gz.length / 2] ^= (byte) 0xFF;
    assertContains(failure(gz), "f.gz: gzip member 1 is corrupt");
  }

  @Test
  void aWrongIsizeFails() {
    byte[] gz = gzip(data(5000, 4), 6);
    ByteBuffer.wrap(gz).order(ByteOrder.LITTLE_ENDIAN).putInt(gz.length - 4, 5001);
    assertContains(
        failure(gz),
        "f.gz: gzip member 1 is corrupt: it decompresses to 5000 bytes",
        "gives ISIZE 5001");
  }

  @Test
  void aTruncatedTrailerFails() {
    byte[] gz = gzip(data(5000, 5), 6);
    byte[] cut = Arrays.copyOf(gz, gz.length - 3);
    assertContains(
        failure(cut),
        "f.gz: file truncated",
        "8-byte trailer (CRC32, ISIZE) starts at compressed offset " + (gz.length - 8),
        "ends at " + cut.length);
    byte[] noTrailer = Arrays.copyOf(gz, gz.length - 8);
    assertContains(failure(noTrailer), "file truncated", "ends at " + noTrailer.length);
  }

  @Test
  void aFileCutInsideTheCompressedDataFails() {
    byte[] gz = gzip(data(100_000, 6), 6);
    byte[] cut = Arrays.copyOf(gz, gz.length / 2);
    assertContains(
        failure(cut),
        "f.gz: file truncated: it ends at compressed offset " + cut.length,
        "inside the compressed data of gzip member 1");
  }

  @Test
  void concatenatedMembersAreOneStreamEachChecked() throws IOException {
    byte[] a = data(70_000, 7);
    byte[] b = data(3, 8);
    byte[] c = new byte[0];
    byte[] file = concat(gzip(a, 6), gzip(b, 1), gzip(c, 9));
    CheckedGzipInputStream in = new CheckedGzipInputStream("f", new ByteArrayInputStream(file));
    assertArrayEquals(concat(a, b, c), in.readAllBytes());
    assertEquals(3, in.members());
    assertTrue(in.verified());
    // the JDK reads the same concatenation
    assertArrayEquals(
        concat(a, b, c), new GZIPInputStream(new ByteArrayInputStream(file)).readAllBytes());
    // damage in the second member's data is found at its own trailer
    byte[] second = gzip(data(50_000, 9), 0);
    second[second.length / 2] ^= 0x10;
    byte[] bad = concat(gzip(a, 6), second);
    assertContains(failure(bad), "gzip member 2 is corrupt", "CRC32");
  }

  @Test
  void zeroPaddingAfterTheLastMemberIsAccepted() throws IOException {
    byte[] a = data(1000, 10);
    assertArrayEquals(a, readAll(concat(gzip(a, 6), new byte[512])));
  }

  @Test
  void otherBytesAfterTheLastMemberAreRefusedWhereTheJdkIgnoresThem() throws IOException {
    byte[] a = data(1000, 11);
    byte[] gz = gzip(a, 6);
    byte[] garbage = concat(gz, new byte[] {'x', 'y', 'z', 0, 0, 0, 0, 0, 0, 0, 0, 0});
    // the JDK's stream silently stops at the garbage ...
    assertArrayEquals(a, new GZIPInputStream(new ByteArrayInputStream(garbage)).readAllBytes());
    // ... this one names it
    assertContains(
        failure(garbage),
        "unexpected bytes after gzip member 1",
        "compressed offset " + gz.length,
        "78 79");
    byte[] afterPadding = concat(gz, new byte[] {0, 0, 7});
    assertContains(
        failure(afterPadding), "unexpected byte 0x07 at compressed offset " + (gz.length + 2));
    // a second member whose magic is damaged is not a silent end either
    byte[] second = gzip(data(10, 12), 6);
    second[1] = (byte) 0x8c;
    assertContains(failure(concat(gz, second)), "unexpected bytes after gzip member 1", "1f 8c");
  }

  @Test
  void notGzipAtAllIsNamed() {
    assertContains(failure(new byte[] {1, 2, 3}), "f.gz: not a gzip file", "found 01 02");
    assertContains(failure(new byte[0]), "f.gz: not a gzip file", "found the end of the file");
  }

  /** A member written by hand: header with the given flags and fields, raw deflate, trailer. */
  static byte[] member(byte[] plain, int method, int flags, byte[] extra, String name, int hcrc) {
    ByteArrayOutputStream h = new ByteArrayOutputStream();
    h.writeBytes(new byte[] {0x1f, (byte) 0x8b, (byte) method, (byte) flags, 0, 0, 0, 0, 0, 3});
    if (extra != null) {
      h.write(extra.length & 0xFF);
      h.write(extra.length >> 8);
      h.writeBytes(extra);
    }
    if (name != null) {
      h.writeBytes(name.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      h.write(0);
    }
    byte[] header = h.toByteArray();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(header);
    if ((flags & 2) != 0) {
      CRC32 c = new CRC32();
      c.update(header);
      int v = hcrc >= 0 ? hcrc : (int) (c.getValue() & 0xFFFF);
      out.write(v & 0xFF);
      out.write(v >> 8);
    }
    Deflater d = new Deflater(6, true);
    d.setInput(plain);
    d.finish();
    byte[] buf = new byte[plain.length + 1024];
    int n = d.deflate(buf);
    d.end();
    out.write(buf, 0, n);
    CRC32 crc = new CRC32();
    crc.update(plain);
    ByteBuffer t = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    t.putInt((int) crc.getValue()).putInt(plain.length);
    out.writeBytes(t.array());
    return out.toByteArray();
  }

  @Test
  void optionalHeaderFieldsAreParsedAndTheHeaderCrcChecked() throws IOException {
    byte[] plain = data(777, 13);
    byte[] full = member(plain, 8, 2 | 4 | 8, new byte[] {1, 2, 3, 4, 5}, "name.idx", -1);
    assertArrayEquals(plain, readAll(full));
    assertArrayEquals(plain, new GZIPInputStream(new ByteArrayInputStream(full)).readAllBytes());
    assertContains(
        failure(member(plain, 8, 2, null, null, 0x1234)),
        "gzip member 1 at compressed offset 0",
        "header CRC16 0x1234");
    assertContains(failure(member(plain, 7, 0, null, null, -1)), "compression method 7");
    assertContains(failure(member(plain, 8, 0x20, null, null, -1)), "reserved flag bits");
    byte[] cutHeader = Arrays.copyOf(full, 14);
    assertContains(failure(cutHeader), "file truncated", "inside the header of gzip member 1");
  }
}
