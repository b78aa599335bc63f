package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CIFAR-style archives: fetched from a mirror, MD5-checked, extracted atomically; a bad archive
 * leaves nothing under a final name in the cache.
 */
class ArchiveDownloadTest {

  /** A POSIX ustar archive of {@code entries}, gzip-compressed. */
  static byte[] tarGz(Map<String, byte[]> entries) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (OutputStream out = new GZIPOutputStream(bytes)) {
      for (Map.Entry<String, byte[]> e : entries.entrySet()) {
        byte[] h = new byte[512];
        put(h, 0, e.getKey());
        put(h, 100, "0000644");
        put(h, 108, "0000000");
        put(h, 116, "0000000");
        put(h, 124, String.format("%011o", e.getValue().length));
        put(h, 136, "00000000000");
        h[156] = '0';
        put(h, 257, "ustar");
        put(h, 263, "00");
        for (int i = 148; i < 156; i++) {
          h[i] = ' ';
        }
        int sum = 0;
        for (byte b : h) {
          sum += b & 0xFF;
        }
        put(h, 148, String.format("%06o", sum));
        out.write(h);
        out.write(e.getValue());
        out.write(new byte[(512 - e.getValue().length % 512) % 512]);
      }
      out.write(new byte[1024]);
    }
    return bytes.toByteArray();
  }

  private static void put(byte[] h, int at, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(b, 0, h, at, b.length);
  }

  static ArchiveSpec spec(String md5) {
    return new ArchiveSpec(
        "tiny",
        CifarFormat.CIFAR10,
        List.of("http://127.0.0.1:9/never/"),
        "tiny-binary.tar.gz",
        md5,
        List.of("tiny-bin/data_batch_1.bin"),
        List.of("tiny-bin/test_batch.bin"),
        Map.of("tiny-bin/data_batch_1.bin", 2L * 3073, "tiny-bin/test_batch.bin", 3073L));
  }

  static Map<String, byte[]> members() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("tiny-bin/readme.html", "<html/>".getBytes(StandardCharsets.US_ASCII));
    byte[] train = new byte[2 * 3073];
    for (int i = 0; i < train.length; i++) {
      train[i] = (byte) (i * 31 % 251);
    }
    m.put("tiny-bin/data_batch_1.bin", train);
    m.put("tiny-bin/test_batch.bin", new byte[3073]);
    return m;
  }

  @Test
  void archiveFromMirrorIsVerifiedAndExtracted(@TempDir Path tmp) throws Exception {
    byte[] archive = tarGz(members());
    Path mirror = tmp.resolve("mirror");
    Files.createDirectories(mirror.resolve("tiny"));
    Files.write(mirror.resolve("tiny/tiny-binary.tar.gz"), archive);
    Path dir = tmp.resolve("cache");
    ArchiveSpec spec = spec(DatasetDownloader.md5(mirror.resolve("tiny/tiny-binary.tar.gz")));
    Path folder = DatasetDownloader.fetchArchive(spec, mirror.toString(), dir);
    assertEquals(dir.resolve("tiny/tiny-bin"), folder);
    assertArrayEquals(
        members().get("tiny-bin/data_batch_1.bin"),
        Files.readAllBytes(folder.resolve("data_batch_1.bin")));
    assertEquals(3073, Files.size(folder.resolve("test_batch.bin")));
    assertFalse(Files.exists(folder.resolve("readme.html")), "only the record files");
    try (var left = Files.list(dir.resolve("tiny"))) {
      assertEquals(
          List.of("tiny-bin", "tiny-binary.tar.gz"),
          left.map(p -> p.getFileName().toString()).sorted().toList(),
          "no temporary files left");
    }
    // second call: served from the cache without the mirror
    assertEquals(
        folder, DatasetDownloader.fetchArchive(spec, tmp.resolve("empty").toString(), dir));
  }

  @Test
  void checksumMismatchLeavesNothingInTheCache(@TempDir Path tmp) throws Exception {
    Path mirror = tmp.resolve("mirror");
    Files.createDirectories(mirror.resolve("tiny"));
    Files.write(mirror.resolve("tiny/tiny-binary.tar.gz"), tarGz(members()));
    Path dir = tmp.resolve("cache");
    DataFormatException e =
        assertThrows(
            DataFormatException.class,
            () ->
                DatasetDownloader.fetchArchive(
                    spec("00000000000000000000000000000000"), mirror.toString(), dir));
    assertTrue(
        e.getMessage().contains("expected MD5 00000000000000000000000000000000"), e.getMessage());
    assertTrue(e.getMessage().contains("tiny-binary.tar.gz"), e.getMessage());
    try (var left = Files.list(dir.resolve("tiny"))) {
      assertEquals(List.of(), left.toList(), "neither the archive nor a temporary file stays");
    }
  }

  @Test
  void archiveWithAShortMemberIsNotExtracted(@TempDir Path tmp) throws Exception {
    Map<String, byte[]> m = members();
    m.put("tiny-bin/test_batch.bin", new byte[3000]);
    Path mirror = tmp.resolve("mirror");
    Files.createDirectories(mirror.resolve("tiny"));
    Path a = mirror.resolve("tiny/tiny-binary.tar.gz");
    Files.write(a, tarGz(m));
    Path dir = tmp.resolve("cache");
    DataFormatException e =
        assertThrows(
            DataFormatException.class,
            () ->
                DatasetDownloader.fetchArchive(
                    spec(DatasetDownloader.md5(a)), mirror.toString(), dir));
    assertTrue(e.getMessage().contains("incomplete archive"), e.getMessage());
    assertTrue(e.getMessage().contains("test_batch.bin"), e.getMessage());
    try (var left = Files.list(dir.resolve("tiny"))) {
      assertEquals(
          List.of("tiny-binary.tar.gz"),
          left.map(p -> p.getFileName().toString()).toList(),
          "no extracted or temporary folder");
    }
  }

  @Test
  void officialCifarArchivesAreListedWithTheirPublishedChecksums() {
    ArchiveSpec c10 = ArchiveSpec.named("cifar10");
    assertEquals("https://www.cs.toronto.edu/~kriz/", c10.baseUrls().get(0));
    assertEquals("cifar-10-binary.tar.gz", c10.archive());
    assertEquals("c32a1d4ab5d03f1284b67883e8d87530", c10.md5());
    assertEquals(5, c10.train().size());
    ArchiveSpec c100 = ArchiveSpec.named("cifar100");
    assertEquals("cifar-100-binary.tar.gz", c100.archive());
    assertEquals("03b5dce01913d631647c71ecec9e9cb8", c100.md5());
    assertEquals(50_000L * 3074, c100.sizes().get("cifar-100-binary/train.bin"));
  }
}
