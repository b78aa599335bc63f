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

  private InputSplit(
      Kind kind,
      String[] uris,
      int[] labels,
      String[] members,
      long from,
      long to,
      int firstIndex) {
    this.kind = kind;
    this.uris = uris;
    this.labels = labels;
    this.members = members;
    this.from = from;
    this.to = to;
    this.firstIndex = firstIndex;
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
    return kind + Arrays.toString(uris) + "[" + from + ", " + to + ")";
  }
}
