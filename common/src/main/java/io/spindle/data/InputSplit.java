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
    IMAGES
  }

  private final Kind kind;
  private final String[] uris;
  private final int[] labels;
  private final String[] members;
  private final long from;
  private final long to;
  private final int firstIndex;
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
    this(kind, uris, labels, members, from, to, firstIndex, new long[0], new long[0], false);
  }

  private InputSplit(
      Kind kind,
      String[] uris,
      int[] labels,
      String[] members,
      long from,
      long to,
      int firstIndex,
      long[] lengths,
      long[] modified,
      boolean verifies) {
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
