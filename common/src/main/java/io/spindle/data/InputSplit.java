package io.spindle.data;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;

/**
 * One input partition of a file-based data set, planned on the driver (from file listings and
 * headers only) and read on an executor. Examples get dense global indices: the split's examples
 * are {@code firstIndex, firstIndex + 1, ...} in file order, so the indices, and hence every
 * epoch's order, do not depend on how many splits there are or where they run.
 *
 * <ul>
 *   <li>{@link Kind#IDX}: records {@code [from, to)} of the image file {@code uris[0]} and the
 *       label file {@code uris[1]}.
 *   <li>{@link Kind#CIFAR_BIN}: records {@code [from, to)} of the CIFAR binary file {@code uris[0]}
 *       (byte range {@code [from * recordBytes, to * recordBytes)}).
 *   <li>{@link Kind#CIFAR_TAR}: every record of the members of the archive {@code uris[0]} whose
 *       names are listed in {@code members}, in that order (a gzip archive cannot be split).
 *   <li>{@link Kind#IMAGES}: the image files {@code uris} with class indices {@code labels}.
 *   <li>{@link Kind#IMAGE_RANGES}: slices of class folders: for each folder {@code uris[k]} (class
 *       {@code labels[k]}), the image files of ranks {@code [start, end)} in the folder's sorted
 *       listing, which held {@code count} images when the data set was planned. The driver never
 *       lists the files themselves, so its plan is a few numbers per class folder, whatever the
 *       number of images.
 * </ul>
 *
 * <p>Integrity ({@link #planned}): the driver records each file's length and modification time as
 * it listed them, and the executor refuses a file that no longer matches, so every split of a run
 * reads the same version of a file. Of the splits that read a gzip file, the driver marks one
 * ({@link #verifiesFiles()}: the one whose range ends last) to read it to its end, which checks
 * every member's CRC32 and ISIZE; the others stop at their range. Since the splits of one file are
 * read by the same Spark job, that job fails if the file is damaged, whoever read which part.
 */
public final class InputSplit implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The layouts a split can read. */
  public enum Kind {
    IDX,
    CIFAR_BIN,
    CIFAR_TAR,
    IMAGES,
    IMAGE_RANGES
  }

  private final Kind kind;
  private final String[] uris;
  private final int[] labels;
  private final String[] members;
  private final long from;
  private final long to;
  private final int firstIndex;
  private final long[] ranges;
  private final long[] lengths;
  private final long[] modified;
  private final boolean verifies;

  private InputSplit(
      Kind kind,
      String[] uris,
      int[] labels,
      String[] members,
      long from,
      long to,
      int firstIndex) {
    this(kind, uris, labels, members, from, to, firstIndex, new long[0]);
  }

  private InputSplit(
      Kind kind,
      String[] uris,
      int[] labels,
      String[] members,
      long from,
      long to,
      int firstIndex,
      long[] ranges) {
    this(
        kind, uris, labels, members, from, to, firstIndex, ranges, new long[0], new long[0], false);
  }

  private InputSplit(
      Kind kind,
      String[] uris,
      int[] labels,
      String[] members,
      long from,
      long to,
      int firstIndex,
      long[] ranges,
      long[] lengths,
      long[] modified,
      boolean verifies) {
    this.ranges = ranges;
    this.kind = kind;
    this.uris = uris;
    this.labels = labels;
    this.members = members;
    this.from = from;
    this.to = to;
    this.firstIndex = firstIndex;
    this.lengths = lengths;
    this.modified = modified;
    this.verifies = verifies;
  }

  /**
   * This split with the version of each of its files the driver planned it from ({@code
   * lengths[i]}, {@code modified[i]}: {@code uri(i)}'s length and modification time in
   * milliseconds) and whether it reads its compressed files to their end to verify them.
   */
  public InputSplit planned(long[] lengths, long[] modified, boolean verifies) {
    if (lengths.length != uris.length || modified.length != uris.length) {
      throw new IllegalArgumentException(
          "expected one length and one modification time per file ("
              + uris.length
              + "), got "
              + lengths.length
              + " and "
              + modified.length);
    }
    return new InputSplit(
        kind,
        uris,
        labels,
        members,
        from,
        to,
        firstIndex,
        ranges,
        lengths.clone(),
        modified.clone(),
        verifies);
  }

  /** True if the driver recorded the version of {@code uri(i)} (see {@link #planned}). */
  public boolean hasPlannedVersion(int i) {
    return i < lengths.length;
  }

  /** The length of {@code uri(i)} when the driver planned this split. */
  public long plannedLength(int i) {
    return lengths[i];
  }

  /** The modification time (ms since the epoch) of {@code uri(i)} when the split was planned. */
  public long plannedModified(int i) {
    return modified[i];
  }

  /** True if this split reads its gzip files to their end, which checks their CRC32 and ISIZE. */
  public boolean verifiesFiles() {
    return verifies;
  }

  public static InputSplit idx(String images, String labels, int from, int to) {
    return new InputSplit(
        Kind.IDX, new String[] {images, labels}, new int[0], new String[0], from, to, from);
  }

  public static InputSplit cifarBin(String uri, long from, long to, int firstIndex) {
    return new InputSplit(
        Kind.CIFAR_BIN, new String[] {uri}, new int[0], new String[0], from, to, firstIndex);
  }

  public static InputSplit cifarTar(String uri, List<String> members, long records) {
    return new InputSplit(
        Kind.CIFAR_TAR,
        new String[] {uri},
        new int[0],
        members.toArray(new String[0]),
        0,
        records,
        0);
  }

  public static InputSplit images(List<String> uris, int[] labels, int firstIndex) {
    return new InputSplit(
        Kind.IMAGES,
        uris.toArray(new String[0]),
        labels.clone(),
        new String[0],
        0,
        uris.size(),
        firstIndex);
  }

  /**
   * Slices of class folders ({@link Kind#IMAGE_RANGES}).
   *
   * @param ranges for folder k: {@code start, end, count} at {@code 3k, 3k + 1, 3k + 2}
   */
  public static InputSplit imageRanges(
      List<String> folders, int[] labels, long[] ranges, int firstIndex) {
    if (ranges.length != 3 * folders.size() || labels.length != folders.size()) {
      throw new IllegalArgumentException(
          "expected a label and 3 range values per folder, got "
              + labels.length
              + " and "
              + ranges.length
              + " for "
              + folders.size());
    }
    long n = 0;
    for (int k = 0; k < folders.size(); k++) {
      n += ranges[3 * k + 1] - ranges[3 * k];
    }
    return new InputSplit(
        Kind.IMAGE_RANGES,
        folders.toArray(new String[0]),
        labels.clone(),
        new String[0],
        0,
        n,
        firstIndex,
        ranges.clone());
  }

  /** {@link Kind#IMAGE_RANGES}: first rank read in folder {@code k}. */
  public long start(int k) {
    return ranges[3 * k];
  }

  /** {@link Kind#IMAGE_RANGES}: end (exclusive) of the ranks read in folder {@code k}. */
  public long end(int k) {
    return ranges[3 * k + 1];
  }

  /** {@link Kind#IMAGE_RANGES}: images folder {@code k} held when the data set was planned. */
  public long count(int k) {
    return ranges[3 * k + 2];
  }

  public Kind kind() {
    return kind;
  }

  public String uri(int i) {
    return uris[i];
  }

  public int numUris() {
    return uris.length;
  }

  public int label(int i) {
    return labels[i];
  }

  public List<String> members() {
    return List.of(members);
  }

  public long from() {
    return from;
  }

  public long to() {
    return to;
  }

  /** Examples this split should produce when nothing is skipped. */
  public long expected() {
    return to - from;
  }

  public int firstIndex() {
    return firstIndex;
  }

  @Override
  public String toString() {
    return kind
        + Arrays.toString(uris)
        + "["
        + from
        + ", "
        + to
        + ")"
        + (verifies ? " verifying" : "");
  }
}
