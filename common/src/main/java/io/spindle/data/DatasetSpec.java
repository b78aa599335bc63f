package io.spindle.data;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A named data set: its files, where they are published, and the SHA-256 and size of each file's
 * decompressed content (gzip files differ between mirrors, their content does not).
 *
 * @param name the name used in configs and as the folder of a mirror or cache
 * @param numClasses classes of the labels
 * @param baseUrls the official download locations, tried in order
 * @param files file name to its expected decompressed content
 */
public record DatasetSpec(
    String name, int numClasses, List<String> baseUrls, Map<String, FileSpec> files) {

  /** What a file must decompress to. */
  public record FileSpec(String sha256, long size) {}

  public static final String TRAIN_IMAGES = "train-images-idx3-ubyte.gz";
  public static final String TRAIN_LABELS = "train-labels-idx1-ubyte.gz";
  public static final String TEST_IMAGES = "t10k-images-idx3-ubyte.gz";
  public static final String TEST_LABELS = "t10k-labels-idx1-ubyte.gz";

  private static final Map<String, DatasetSpec> KNOWN =
      Map.of(
          "mnist",
          new DatasetSpec(
              "mnist",
              10,
              List.of(
                  "http://yann.lecun.com/exdb/mnist/",
                  "https://ossci-datasets.s3.amazonaws.com/mnist/"),
              Map.of(
                  TRAIN_IMAGES,
                  new FileSpec(
                      "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
                  TRAIN_LABELS,
                  new FileSpec(
                      "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
                  TEST_IMAGES,
                  new FileSpec(
                      "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
                  TEST_LABELS,
                  new FileSpec(
                      "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008))),
          "fashion-mnist",
          new DatasetSpec(
              "fashion-mnist",
              10,
              List.of("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
              Map.of(
                  TRAIN_IMAGES,
                  new FileSpec(
                      "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
                  TRAIN_LABELS,
                  new FileSpec(
                      "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
                  TEST_IMAGES,
                  new FileSpec(
                      "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
                  TEST_LABELS,
                  new FileSpec(
                      "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008))));

  public DatasetSpec {
    baseUrls = List.copyOf(baseUrls);
    files = Map.copyOf(files);
  }

  public static DatasetSpec named(String name) {
    DatasetSpec spec = KNOWN.get(name);
    if (spec == null) {
      throw new io.spindle.config.ConfigException(
          "data.dataset: unknown data set '"
              + name
              + "'; expected one of "
              + new TreeMap<>(KNOWN).keySet());
    }
    return spec;
  }
}
