package io.spindle.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.data.CifarFormat;
import io.spindle.data.DataIntegrityException;
import io.spindle.data.Example;
import io.spindle.data.InputSplit;
import io.spindle.data.ReadOptions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The executor's reader through Hadoop's local file system: only the verifying split reads a gzip
 * file to its end, a damaged file fails it (skipBadRecords or not), the verdict is kept per file
 * version, and a file that changed since the split was planned is refused.
 */
class SplitReaderIntegrityTest {
  static final int COUNT = 300;
  static final Map<String, String> HADOOP = Map.of();

  static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    }
    return out.toByteArray();
  }

  static byte[] idx(int magic, int count, int recordBytes) {
    int header = magic == 2051 ? 16 : 8;
    ByteBuffer b = ByteBuffer.allocate(header + count * recordBytes);
    b.putInt(magic).putInt(count);
    if (magic == 2051) {
      b.putInt(28).putInt(28);
    }
    for (int i = 0; i < count * recordBytes; i++) {
      b.put((byte) (magic == 2051 ? i * 7 + i / 784 : i % 10));
    }
    return b.array();
  }

  /** MNIST-like images and labels, gzip-compressed, in {@code dir}. */
  static Path[] mnist(Path dir) throws IOException {
    Path images = dir.resolve("imgs.gz");
    Path labels = dir.resolve("labels.gz");
    Files.write(images, gzip(idx(2051, COUNT, 784)));
    Files.write(labels, gzip(idx(2049, COUNT, 1)));
    return new Path[] {images, labels};
  }

  static InputSplit idxSplit(Path[] files, int from, int to, boolean verifies) throws IOException {
    return InputSplit.idx(files[0].toUri().toString(), files[1].toUri().toString(), from, to)
        .planned(
            new long[] {Files.size(files[0]), Files.size(files[1])},
            new long[] {mtime(files[0]), mtime(files[1])},
            verifies);
  }

  static long mtime(Path p) throws IOException {
    return Files.getLastModifiedTime(p).toMillis();
  }

  static List<Example> readAll(InputSplit split, boolean skipBadRecords) {
    ReadOptions options = new ReadOptions(10, CifarFormat.CIFAR10, false, null, skipBadRecords);
    List<Example> out = new ArrayList<>();
    Iterator<Example> it = SplitReader.read(split, options, HADOOP);
    it.forEachRemaining(out::add);
    return out;
  }

  /**
   * Sets the ISIZE of a single-member gzip file to a wrong value, keeping its length; the
   * modification time moves on by a second (a new version of the file, as any rewrite makes).
   */
  static void breakIsize(Path gz) throws IOException {
    byte[] b = Files.readAllBytes(gz);
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length - 4, 12345);
    long modified = mtime(gz);
    Files.write(gz, b);
    Files.setLastModifiedTime(gz, java.nio.file.attribute.FileTime.fromMillis(modified + 1000));
  }

  @Test
  void onlyTheVerifyingSplitReadsToTheEndAndItsVerdictIsKept(@TempDir Path tmp) throws Exception {
    Path[] files = mnist(tmp);
    long verifications = VerifiedFiles.verifications();
    long drained = VerifiedFiles.drainedBytes();
    assertEquals(100, readAll(idxSplit(files, 0, 100, false), false).size());
    assertEquals(0, VerifiedFiles.verifications() - verifications, "a prefix verifies nothing");
    // the last split, cut short (as with data.trainLimit): reads 100 records, drains 100 more
    assertEquals(100, readAll(idxSplit(files, 100, 200, true), false).size());
    assertEquals(2, VerifiedFiles.verifications() - verifications, "images and labels");
    assertEquals(100L * 784 + 100, VerifiedFiles.drainedBytes() - drained);
    // the same versions again: no second drain
    readAll(idxSplit(files, 100, 200, true), false);
    assertEquals(2, VerifiedFiles.verifications() - verifications);
    assertEquals(100L * 784 + 100, VerifiedFiles.drainedBytes() - drained);
  }

  @Test
  void aDamagedFileFailsTheVerifyingSplitEvenWhenSkippingBadRecords(@TempDir Path tmp)
      throws Exception {
    Path[] files = mnist(tmp);
    breakIsize(files[0]);
    // a split that stops early does not see it ...
    assertEquals(50, readAll(idxSplit(files, 0, 50, false), false).size());
    // ... the verifying one does, at the end of its range
    for (boolean skip : new boolean[] {false, true}) {
      DataIntegrityException e =
          assertThrows(
              DataIntegrityException.class, () -> readAll(idxSplit(files, 0, COUNT, true), skip));
      assertTrue(e.getMessage().startsWith(files[0].toUri().toString()), e.getMessage());
      assertTrue(e.getMessage().contains("ISIZE 12345"), e.getMessage());
    }
  }

  @Test
  void aFileChangedAfterPlanningIsRefused(@TempDir Path tmp) throws Exception {
    Path[] files = mnist(tmp);
    InputSplit planned = idxSplit(files, 0, 10, false);
    Files.setLastModifiedTime(
        files[1], java.nio.file.attribute.FileTime.fromMillis(mtime(files[1]) + 5000));
    DataIntegrityException e =
        assertThrows(DataIntegrityException.class, () -> readAll(planned, false));
    assertTrue(e.getMessage().startsWith(files[1].toUri().toString()), e.getMessage());
    assertTrue(e.getMessage().contains("changed while the run was reading it"), e.getMessage());
  }

  /** A ustar header for a regular file; TarStream reads name, size and type. */
  static byte[] tarHeader(String name, long size) {
    byte[] h = new byte[512];
    byte[] n = name.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(n, 0, h, 0, n.length);
    byte[] mode = "0000644\0".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(mode, 0, h, 100, mode.length);
    byte[] octal = String.format("%011o\0", size).getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(octal, 0, h, 124, octal.length);
    h[156] = '0';
    byte[] magic = "ustar\0".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(magic, 0, h, 257, magic.length);
    return h;
  }

  static Path cifarTarGz(Path dir) throws IOException {
    ByteArrayOutputStream tar = new ByteArrayOutputStream();
    for (String member : new String[] {"data_batch_1.bin", "test_batch.bin"}) {
      int records = member.startsWith("data") ? 2 : 1;
      byte[] data = new byte[records * 3073];
      for (int i = 0; i < data.length; i++) {
        data[i] = (byte) (i % 3073 == 0 ? 3 : i);
      }
      tar.writeBytes(tarHeader("cifar-10-batches-bin/" + member, data.length));
      tar.writeBytes(data);
      tar.writeBytes(new byte[(512 - data.length % 512) % 512]);
    }
    tar.writeBytes(new byte[1024]); // end of archive
    Path file = dir.resolve("cifar-10-binary.tar.gz");
    Files.write(file, gzip(tar.toByteArray()));
    return file;
  }

  static InputSplit tarSplit(Path file, String member, int records, boolean verifies)
      throws IOException {
    return InputSplit.cifarTar(
            file.toUri().toString(), List.of("cifar-10-batches-bin/" + member), records)
        .planned(new long[] {Files.size(file)}, new long[] {mtime(file)}, verifies);
  }

  @Test
  void aCifarArchiveIsVerifiedPastItsLastWantedMember(@TempDir Path tmp) throws Exception {
    Path file = cifarTarGz(tmp);
    long verifications = VerifiedFiles.verifications();
    List<Example> train = readAll(tarSplit(file, "data_batch_1.bin", 2, true), false);
    assertEquals(2, train.size());
    assertEquals(3, train.get(1).label());
    assertEquals(1, VerifiedFiles.verifications() - verifications);
    breakIsize(file);
    assertEquals(2, readAll(tarSplit(file, "data_batch_1.bin", 2, false), false).size());
    DataIntegrityException e =
        assertThrows(
            DataIntegrityException.class,
            () -> readAll(tarSplit(file, "data_batch_1.bin", 2, true), false));
    assertTrue(e.getMessage().contains("cifar-10-binary.tar.gz: gzip member 1"), e.getMessage());
  }
}
