package io.spindle.driver.data;

import io.spindle.testing.TestDatasets;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** Copies of the MNIST mirror, and the ways the integrity tests damage a gzip file. */
public final class DamagedMnist {
  public static final List<String> FILES =
      List.of(
          "train-images-idx3-ubyte.gz",
          "train-labels-idx1-ubyte.gz",
          "t10k-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz");

  private DamagedMnist() {}

  /** A copy of the MNIST mirror's four files in {@code dir}. */
  public static Path copy(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (String name : FILES) {
      Files.copy(TestDatasets.mirror().resolve("mnist").resolve(name), dir.resolve(name));
    }
    return dir;
  }

  /** The case: one byte flipped in the middle of the compressed stream. */
  public static byte[] flipMiddleByte(byte[] gz) {
    byte[] b = gz.clone();
    b[b.length / 2] ^= (byte) 0xFF;
    return b;
  }

  public static void flipMiddleByte(Path file) throws IOException {
    Files.write(file, flipMiddleByte(Files.readAllBytes(file)));
  }

  /** The 8-byte gzip trailer loses its last 3 bytes. */
  public static void truncateTrailer(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(b, b.length - 3));
  }

  /** ISIZE (the last 4 bytes) one more than the truth. */
  public static void wrongIsize(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    buf.putInt(b.length - 4, buf.getInt(b.length - 4) + 1);
    Files.write(file, b);
  }
}
