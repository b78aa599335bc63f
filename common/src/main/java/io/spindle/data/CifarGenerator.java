package io.spindle.data;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a data set in the official CIFAR-10 binary layout, for tests, benchmarks and end-to-end
 * runs on machines that cannot fetch CIFAR-10: {@code data_batch_1.bin} ... {@code
 * data_batch_5.bin} and {@code test_batch.bin}, each {@code perFile} records of 1 label byte then
 * 1024 red, 1024 green and 1024 blue bytes (rows of 32), plus {@code batches.meta.txt} with the ten
 * class names, as in {@code cifar-10-batches-bin/}.
 *
 * <p>The images are learnable, so a network trained on them shows progress: class {@code k} has a
 * colour and a striped texture of its own (orientation and frequency depend on {@code k}), drawn at
 * a random phase and contrast with per-pixel noise. Record {@code r} of file {@code f} is a pure
 * function of (seed, f, r) ({@link #record}), so a test can predict every byte.
 */
public final class CifarGenerator {
  /** Records per file in the official data set. */
  public static final int OFFICIAL_PER_FILE = 10_000;

  /** The official class names, in label order. */
  public static final String[] CLASSES = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
  };

  private CifarGenerator() {}

  /**
   * {@code CifarGenerator DIR [RECORDS_PER_FILE [SEED]]}: writes the layout into {@code DIR}
   * (default 10,000 records per file, the official size, and seed 1), for end-to-end runs and
   * throughput figures on generated CIFAR-shaped input.
   */
  public static void main(String[] args) throws IOException {
    if (args.length < 1 || args.length > 3) {
      System.err.println("usage: CifarGenerator DIR [RECORDS_PER_FILE [SEED]]");
      System.exit(2);
    }
    int perFile = args.length > 1 ? Integer.parseInt(args[1]) : OFFICIAL_PER_FILE;
    long seed = args.length > 2 ? Long.parseLong(args[2]) : 1;
    Path dir = write(Path.of(args[0]), perFile, seed);
    System.out.println(dir.toAbsolutePath() + ": 6 files of " + perFile + " records");
  }

  /** The file names in order: the five training files, then the test file (file numbers 1..6). */
  public static String fileName(int file) {
    return file <= 5 ? "data_batch_" + file + ".bin" : "test_batch.bin";
  }

  /**
   * Writes the six files ({@code perFile} records each) and {@code batches.meta.txt} into {@code
   * dir}, created if missing; returns {@code dir}.
   */
  public static Path write(Path dir, int perFile, long seed) throws IOException {
    if (perFile <= 0) {
      throw new IllegalArgumentException("records per file must be > 0, got " + perFile);
    }
    Files.createDirectories(dir);
    int rec = CifarFormat.CIFAR10.recordBytes();
    for (int f = 1; f <= 6; f++) {
      Path target = dir.resolve(fileName(f));
      Path tmp = dir.resolve(fileName(f) + ".tmp");
      try (OutputStream out =
          new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
        byte[] buf = new byte[rec];
        for (int r = 0; r < perFile; r++) {
          record(seed, f, r, buf);
          out.write(buf);
        }
      }
      Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    Files.writeString(
        dir.resolve("batches.meta.txt"),
        String.join("\n", CLASSES) + "\n\n",
        StandardCharsets.US_ASCII);
    return dir;
  }

  /** The label of record {@code r} of file {@code file}. */
  public static int label(long seed, int file, int r) {
    return (int) Long.remainderUnsigned(mix(seed, file, r) >>> 7, 10);
  }

  /** Record {@code r} of file {@code file} (1..6), written into {@code out[0..3073)}. */
  public static void record(long seed, int file, int r, byte[] out) {
    int k = label(seed, file, r);
    out[0] = (byte) k;
    SplittableRandom rng = new SplittableRandom(mix(seed, file, r));
    double angle = Math.PI * k / 10;
    double freq = 0.25 + 0.05 * (k % 5);
    double phase = rng.nextDouble() * 2 * Math.PI;
    double contrast = 40 + 40 * rng.nextDouble();
    double cx = Math.cos(angle);
    double sy = Math.sin(angle);
    for (int c = 0; c < 3; c++) {
      double base = 60 + 140 * (((k * 7 + c * 3) % 10) / 9.0);
      for (int y = 0; y < 32; y++) {
        for (int x = 0; x < 32; x++) {
          double v =
              base
                  + contrast * Math.sin(freq * (x * cx + y * sy) + phase)
                  + 24 * (rng.nextDouble() - 0.5);
          out[1 + c * 1024 + y * 32 + x] = (byte) Math.max(0, Math.min(255, (int) Math.round(v)));
        }
      }
    }
  }

  /** Record {@code r} of file {@code file} as a new array. */
  public static byte[] record(long seed, int file, int r) {
    byte[] out = new byte[CifarFormat.CIFAR10.recordBytes()];
    record(seed, file, r, out);
    return out;
  }

  private static long mix(long seed, int file, int r) {
    long z = seed * 0x9E3779B97F4A7C15L + file * 0xC2B2AE3D27D4EB4FL + r * 0x165667B19E3779F9L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
