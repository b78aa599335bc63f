package io.spindle.driver.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/** Writes small data sets in the official layouts, with contents the tests can predict. */
final class DataFiles {
  private DataFiles() {}

  /** Byte {@code i} of CIFAR record {@code r} of file {@code f}: a fixed pseudo-random value. */
  static byte[] cifarRecord(int file, int r, int labelBytes, int classes) {
    byte[] rec = new byte[labelBytes + 3072];
    SplittableRandom rng = new SplittableRandom(file * 100_003L + r);
    for (int i = 0; i < labelBytes; i++) {
      rec[i] = (byte) rng.nextInt(classes);
    }
    for (int i = labelBytes; i < rec.length; i++) {
      rec[i] = (byte) rng.nextInt(256);
    }
    return rec;
  }

  /** CIFAR-10 layout: data_batch_1..5.bin and test_batch.bin, {@code perFile} records each. */
  static Path cifar10(Path dir, int perFile) throws IOException {
    Files.createDirectories(dir);
    for (int f = 1; f <= 6; f++) {
      String name = f <= 5 ? "data_batch_" + f + ".bin" : "test_batch.bin";
      byte[] all = new byte[perFile * 3073];
      for (int r = 0; r < perFile; r++) {
        System.arraycopy(cifarRecord(f, r, 1, 10), 0, all, r * 3073, 3073);
      }
      Files.write(dir.resolve(name), all);
    }
    return dir;
  }

  /** A solid-coloured RGB image with one marked pixel per row, so crops and flips show. */
  static BufferedImage image(int w, int h, int seed) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    SplittableRandom rng = new SplittableRandom(seed);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, rng.nextInt(1 << 24));
      }
    }
    return img;
  }

  static void png(BufferedImage img, Path file) throws IOException {
    Files.createDirectories(file.getParent());
    if (!ImageIO.write(img, "png", file.toFile())) {
      throw new IOException("no PNG writer");
    }
  }

  /** ImageNet layout: {@code <root>/train/<class>/*.png} and {@code <root>/val/<class>/*.png}. */
  static Path imageFolder(Path root, String[] classes, int perClass, int side) throws IOException {
    int seed = 0;
    for (String split : new String[] {"train", "val"}) {
      for (String c : classes) {
        for (int i = 0; i < perClass; i++) {
          png(
              image(side, side, seed++),
              root.resolve(split).resolve(c).resolve("img" + i + ".png"));
        }
      }
    }
    return root;
  }
}
