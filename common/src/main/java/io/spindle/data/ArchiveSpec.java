package io.spindle.data;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A named data set published as one archive (the CIFAR binary tar.gz files): where it is published,
 * the archive's MD5 (as the publisher lists it), and the members that hold the training and test
 * records, with their exact sizes.
 *
 * @param name the data set's name, also the folder of a mirror or cache
 * @param format the record layout of the members
 * @param baseUrls the official download locations, tried in order
 * @param archive the archive's file name
 * @param md5 the archive's MD5, hex
 * @param train members holding the training records, in order
 * @param test members holding the test records, in order
 * @param sizes every member's size in bytes
 */
public record ArchiveSpec(
    String name,
    CifarFormat format,
    List<String> baseUrls,
    String archive,
    String md5,
    List<String> train,
    List<String> test,
    Map<String, Long> sizes) {

  private static final long C10 = 10_000L * 3073;

  private static final Map<String, ArchiveSpec> KNOWN =
      Map.of(
          "cifar10",
          new ArchiveSpec(
              "cifar10",
              CifarFormat.CIFAR10,
              List.of("https://www.cs.toronto.edu/~kriz/"),
              "cifar-10-binary.tar.gz",
              "c32a1d4ab5d03f1284b67883e8d87530",
              List.of(
                  "cifar-10-batches-bin/data_batch_1.bin",
                  "cifar-10-batches-bin/data_batch_2.bin",
                  "cifar-10-batches-bin/data_batch_3.bin",
                  "cifar-10-batches-bin/data_batch_4.bin",
                  "cifar-10-batches-bin/data_batch_5.bin"),
              List.of("cifar-10-batches-bin/test_batch.bin"),
              Map.of(
                  "cifar-10-batches-bin/data_batch_1.bin", C10,
                  "cifar-10-batches-bin/data_batch_2.bin", C10,
                  "cifar-10-batches-bin/data_batch_3.bin", C10,
                  "cifar-10-batches-bin/data_batch_4.bin", C10,
                  "cifar-10-batches-bin/data_batch_5.bin", C10,
                  "cifar-10-batches-bin/test_batch.bin", C10)),
          "cifar100",
          new ArchiveSpec(
              "cifar100",
              CifarFormat.CIFAR100,
              List.of("https://www.cs.toronto.edu/~kriz/"),
              "cifar-100-binary.tar.gz",
              "03b5dce01913d631647c71ecec9e9cb8",
              List.of("cifar-100-binary/train.bin"),
              List.of("cifar-100-binary/test.bin"),
              Map.of(
                  "cifar-100-binary/train.bin", 50_000L * 3074,
                  "cifar-100-binary/test.bin", 10_000L * 3074)));

  public ArchiveSpec {
    baseUrls = List.copyOf(baseUrls);
    train = List.copyOf(train);
    test = List.copyOf(test);
    sizes = Map.copyOf(sizes);
  }

  public static boolean isArchive(String name) {
    return KNOWN.containsKey(name);
  }

  public static ArchiveSpec named(String name) {
    ArchiveSpec spec = KNOWN.get(name);
    if (spec == null) {
      throw new io.spindle.config.ConfigException(
          "data.dataset: unknown archive data set '"
              + name
              + "'; expected one of "
              + new TreeMap<>(KNOWN).keySet());
    }
    return spec;
  }

  /** The folder (relative to the archive's root) that holds the members. */
  public String folder() {
    String first = train.get(0);
    return first.substring(0, first.indexOf('/'));
  }
}
