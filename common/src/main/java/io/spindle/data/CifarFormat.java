package io.spindle.data;

/**
 * The CIFAR binary record layouts. A CIFAR-10 record is 1 label byte then 3072 pixel bytes; a
 * CIFAR-100 record is a coarse label byte, a fine label byte, then the pixels. The pixels are the
 * 32x32 red plane, then green, then blue, each row-major. Files hold records back to back with no
 * header, so a file is valid only if its size is a multiple of the record size, and any record
 * boundary is a valid split point.
 */
public enum CifarFormat {
  CIFAR10(1, 10, 10),
  CIFAR100(2, 100, 20);

  public static final int CHANNELS = 3;
  public static final int SIDE = 32;
  public static final int PIXELS = CHANNELS * SIDE * SIDE;

  private final int labelBytes;
  private final int fineClasses;
  private final int coarseClasses;

  CifarFormat(int labelBytes, int fineClasses, int coarseClasses) {
    this.labelBytes = labelBytes;
    this.fineClasses = fineClasses;
    this.coarseClasses = coarseClasses;
  }

  public int recordBytes() {
    return labelBytes + PIXELS;
  }

  /** Classes of the label in use: CIFAR-10 has 10; CIFAR-100 100 fine or 20 coarse. */
  public int numClasses(boolean coarse) {
    return coarse ? coarseClasses : fineClasses;
  }

  /**
   * Decodes the record at {@code rec[off..off+recordBytes)}: pixels kept encoded in CHW order (the
   * features are pixel / 255).
   *
   * @param source the file, for messages
   * @param fileOffset the record's byte offset in the file, for messages
   * @param coarse CIFAR-100 only: use the coarse (superclass) label instead of the fine one
   */
  public Example decode(
      String source, long fileOffset, byte[] rec, int off, int index, boolean coarse) {
    int labelAt = this == CIFAR100 && !coarse ? 1 : 0;
    int label = rec[off + labelAt] & 0xFF;
    int classes = numClasses(coarse);
    if (label >= classes) {
      throw new DataFormatException(
          source
              + " offset "
              + (fileOffset + labelAt)
              + ": label "
              + label
              + " out of range [0, "
              + classes
              + ") (record "
              + (fileOffset / recordBytes())
              + ")");
    }
    byte[] px = java.util.Arrays.copyOfRange(rec, off + labelBytes, off + labelBytes + PIXELS);
    return Example.ofPixels(index, px, label, CHANNELS, SIDE, SIDE);
  }

  /** Records in a file of {@code size} bytes; refuses a size that is not whole records. */
  public long records(String source, long size) {
    if (size % recordBytes() != 0) {
      throw new DataFormatException(
          source
              + " offset "
              + (size - size % recordBytes())
              + ": file truncated or corrupt: size "
              + size
              + " is not a multiple of the "
              + name().toLowerCase()
              + " record size "
              + recordBytes()
              + " (last record has "
              + (size % recordBytes())
              + " bytes)");
    }
    return size / recordBytes();
  }
}
