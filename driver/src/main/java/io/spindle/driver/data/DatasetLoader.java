package io.spindle.driver.data;

import io.spindle.config.ConfigException;
import io.spindle.config.DataConfig;
import io.spindle.data.ArchiveSpec;
import io.spindle.data.CifarFormat;
import io.spindle.data.DataFormatException;
import io.spindle.data.Example;
import io.spindle.data.GeneratedSequences;
import io.spindle.data.IdxReader;
import io.spindle.data.IdxRecordStream;
import io.spindle.data.ImageTransform;
import io.spindle.data.InputSplit;
import io.spindle.data.ReadOptions;
import io.spindle.worker.SplitReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Plans and reads a file-based data set (IDX, CIFAR binary, image folders) on the executors.
 *
 * <p>The driver only lists files and reads headers: it cuts the data set into {@code
 * data.inputPartitions} input partitions of about equal example counts (IDX: record ranges, read by
 * decompressing the gzip file up to the range, once per partition; CIFAR: byte ranges on record
 * boundaries; image folders: contiguous slices of the sorted file list) and gives every example a
 * dense global index in file order. Each executor then streams its partition through {@link
 * SplitReader} via Hadoop's {@code FileSystem}, so the data never passes through the driver and the
 * indices, hence every epoch's order, are the same whatever the number of partitions.
 *
 * <p>Paths are Hadoop URIs ({@code file://}, {@code hdfs://}, {@code s3a://}) or local paths. The
 * executors' Hadoop configuration is Spark's {@code spark.hadoop.*} settings plus {@code
 * data.hadoop}.
 *
 * <p>Integrity (see {@code docs/integrity.md}): every split carries the length and modification
 * time the driver saw for each of its files, and of the splits of an IDX or CIFAR tar.gz file the
 * one whose range ends last reads the file to its end, checking every gzip member's CRC32 and
 * ISIZE. A mismatch fails the read job, hence the run (exit code 3), before training starts.
 */
public final class DatasetLoader {

  private DatasetLoader() {}

  /** The training and test examples of a file-based data set, not yet counted. */
  public record Source(
      JavaRDD<Example> train,
      JavaRDD<Example> test,
      long expectedTrain,
      long expectedTest,
      int numClasses) {}

  /**
   * Reads the data set {@code config} describes from {@code root} (a folder or archive in the
   * official layout) into a {@link DistributedDataset}; bad data fails here, before training.
   */
  public static DistributedDataset load(
      JavaSparkContext sc, DataConfig config, String root, int batchSize, int workers, long seed) {
    Map<String, String> hadoop = hadoopSettings(sc, config);
    int partitions = config.inputPartitions() == 0 ? workers : config.inputPartitions();
    Source source =
        switch (config.effectiveFormat()) {
          case "idx" -> idx(sc, config, root, partitions, hadoop);
          case "cifar10", "cifar100" -> cifar(sc, config, root, partitions, hadoop);
          case "image_folder" -> images(sc, config, root, partitions, hadoop, seed);
          case "table" -> TableSource.read(sc, config, partitions);
          case "generated" -> generated(sc, config, partitions);
          default -> throw new ConfigException("format " + config.effectiveFormat());
        };
    return finish(sc, source, config, batchSize, workers, seed);
  }

  /**
   * Counts what was read, reports skipped records (or fails when records are missing without
   * skipBadRecords), renumbers the training set densely if records were skipped.
   */
  static DistributedDataset finish(
      JavaSparkContext sc,
      Source source,
      DataConfig config,
      int batchSize,
      int workers,
      long seed) {
    JavaRDD<Example> train =
        source
            .train()
            .setName("decoded train examples")
            .persist(StorageLevel.MEMORY_AND_DISK_SER());
    sc.setJobDescription("read and decode the training set");
    long gotTrain = train.count();
    sc.setJobDescription("read and decode the test set");
    JavaRDD<Example> test = source.test();
    long gotTest = test.count();
    long skipped = (source.expectedTrain() - gotTrain) + (source.expectedTest() - gotTest);
    if (skipped > 0 && !config.skipBadRecords()) {
      throw new DataFormatException(
          "expected "
              + source.expectedTrain()
              + " training and "
              + source.expectedTest()
              + " test examples, read "
              + gotTrain
              + " and "
              + gotTest);
    }
    if (gotTrain == 0) {
      throw new DataFormatException(
          "the training set is empty (" + skipped + " bad records skipped)");
    }
    JavaRDD<Example> dense = train;
    if (gotTrain < source.expectedTrain()) {
      dense = train.zipWithIndex().map(t -> t._1().withIndex((int) (long) t._2()));
    }
    DistributedDataset out =
        DistributedDataset.of(
            sc,
            dense,
            test,
            source.numClasses(),
            batchSize,
            workers,
            seed,
            config.prefetchBatches(),
            skipped,
            config.augment(),
            config.effectiveFormat().equals("image_folder") ? config.imageSize() : 0);
    if (dense != train) {
      train.unpersist(false); // the renumbered copy is cached now
    }
    return out;
  }

  /** spark.hadoop.* (prefix removed) and data.hadoop, for the executors' Hadoop clients. */
  public static Map<String, String> hadoopSettings(JavaSparkContext sc, DataConfig config) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Tuple2<String, String> kv : sc.getConf().getAllWithPrefix("spark.hadoop.")) {
      out.put(kv._1(), kv._2());
    }
    for (String kv : config.hadoop()) {
      int eq = kv.indexOf('=');
      out.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
    }
    return out;
  }

  private static Configuration driverConf(JavaSparkContext sc, Map<String, String> hadoop) {
    Configuration conf = new Configuration(sc.hadoopConfiguration());
    hadoop.forEach(conf::set);
    return conf;
  }

  static String child(String root, String name) {
    return root.endsWith("/") ? root + name : root + "/" + name;
  }

  private static JavaRDD<Example> read(
      JavaSparkContext sc,
      List<List<InputSplit>> partitions,
      ReadOptions options,
      Map<String, String> hadoop) {
    return sc.parallelize(partitions, Math.max(1, partitions.size()))
        .flatMap(
            splits -> {
              List<java.util.Iterator<Example>> its = new ArrayList<>();
              for (InputSplit s : splits) {
                its.add(SplitReader.read(s, options, hadoop));
              }
              return its.stream()
                  .flatMap(
                      it ->
                          java.util.stream.StreamSupport.stream(
                              java.util.Spliterators.spliteratorUnknownSize(it, 0), false))
                  .iterator();
            });
  }

  // ---- generated ----

  /** {@link GeneratedSequences}: each partition generates the examples whose index it owns. */
  static Source generated(JavaSparkContext sc, DataConfig config, int partitions) {
    int train =
        config.trainLimit() == 0
            ? GeneratedSequences.TRAIN_SIZE
            : Math.min(config.trainLimit(), GeneratedSequences.TRAIN_SIZE);
    return new Source(
        generate(sc, train, false, partitions),
        generate(sc, GeneratedSequences.TEST_SIZE, true, partitions),
        train,
        GeneratedSequences.TEST_SIZE,
        GeneratedSequences.NUM_CLASSES);
  }

  private static JavaRDD<Example> generate(
      JavaSparkContext sc, int count, boolean test, int partitions) {
    List<Integer> parts = java.util.stream.IntStream.range(0, partitions).boxed().toList();
    return sc.parallelize(parts, partitions)
        .flatMap(
            p -> {
              List<Example> mine = new ArrayList<>();
              for (int i = p; i < count; i += partitions) {
                mine.add(GeneratedSequences.example(i, test));
              }
              return mine.iterator();
            });
  }

  // ---- IDX ----

  static Source idx(
      JavaSparkContext sc,
      DataConfig config,
      String root,
      int partitions,
      Map<String, String> hadoop) {
    Configuration conf = driverConf(sc, hadoop);
    int numClasses = 10;
    ReadOptions options = new ReadOptions(numClasses, null, false, null, config.skipBadRecords());
    List<List<InputSplit>> train =
        idxSplits(
            conf,
            child(root, "train-images-idx3-ubyte.gz"),
            child(root, "train-labels-idx1-ubyte.gz"),
            config.trainLimit(),
            partitions);
    List<List<InputSplit>> test =
        idxSplits(
            conf,
            child(root, "t10k-images-idx3-ubyte.gz"),
            child(root, "t10k-labels-idx1-ubyte.gz"),
            0,
            partitions);
    return new Source(
        read(sc, train, options, hadoop),
        read(sc, test, options, hadoop),
        expected(train),
        expected(test),
        numClasses);
  }

  private static List<List<InputSplit>> idxSplits(
      Configuration conf, String images, String labels, int limit, int partitions) {
    FileStatus imagesStatus = status(conf, images);
    FileStatus labelsStatus = status(conf, labels);
    long[] lengths = {imagesStatus.getLen(), labelsStatus.getLen()};
    long[] modified = {imagesStatus.getModificationTime(), labelsStatus.getModificationTime()};
    int count;
    try (InputStream in = open(conf, images)) {
      IdxRecordStream s = new IdxRecordStream(images, in, IdxReader.IMAGES_MAGIC);
      count = s.count();
    } catch (IOException e) {
      throw new DataFormatException("cannot read " + images + ": " + e, e);
    }
    int n = limit == 0 ? count : Math.min(limit, count);
    List<List<InputSplit>> out = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      int from = (int) ((long) p * n / partitions);
      int to = (int) ((long) (p + 1) * n / partitions);
      boolean last = p == partitions - 1; // reads up to the end of the range: it verifies
      out.add(mutable(InputSplit.idx(images, labels, from, to).planned(lengths, modified, last)));
    }
    return out;
  }

  // ---- CIFAR ----

  static Source cifar(
      JavaSparkContext sc,
      DataConfig config,
      String root,
      int partitions,
      Map<String, String> hadoop) {
    Configuration conf = driverConf(sc, hadoop);
    ArchiveSpec spec = ArchiveSpec.named(config.effectiveFormat());
    CifarFormat format = spec.format();
    boolean coarse = config.cifarLabels().equals("coarse");
    int numClasses = format.numClasses(coarse);
    ReadOptions options =
        new ReadOptions(numClasses, format, coarse, null, config.skipBadRecords());
    List<List<InputSplit>> train;
    List<List<InputSplit>> test;
    long[] partial = {0};
    long partialTrain = 0;
    if (root.endsWith(".tar.gz") || root.endsWith(".tgz")) {
      long trainRecords = 0;
      long testRecords = 0;
      for (String m : spec.train()) {
        trainRecords += spec.sizes().get(m) / format.recordBytes();
      }
      for (String m : spec.test()) {
        testRecords += spec.sizes().get(m) / format.recordBytes();
      }
      FileStatus archive = status(conf, root);
      long[] lengths = {archive.getLen()};
      long[] modified = {archive.getModificationTime()};
      // one split per set, each read by its own job: each verifies (once per JVM, see
      // VerifiedFiles)
      train =
          new ArrayList<>(
              List.of(
                  mutable(
                      InputSplit.cifarTar(root, spec.train(), trainRecords)
                          .planned(lengths, modified, true))));
      test =
          new ArrayList<>(
              List.of(
                  mutable(
                      InputSplit.cifarTar(root, spec.test(), testRecords)
                          .planned(lengths, modified, true))));
    } else {
      String folder = root;
      String firstName = baseName(spec.train().get(0));
      if (!exists(conf, child(folder, firstName))
          && exists(conf, child(child(folder, spec.folder()), firstName))) {
        folder = child(folder, spec.folder());
      }
      train = byteRangeSplits(conf, folder, spec.train(), format, partitions, config, partial);
      partialTrain = partial[0];
      test = byteRangeSplits(conf, folder, spec.test(), format, partitions, config, partial);
    }
    return new Source(
        read(sc, train, options, hadoop),
        read(sc, test, options, hadoop),
        expected(train) + partialTrain,
        expected(test) + partial[0] - partialTrain,
        numClasses);
  }

  /**
   * Cuts the records of {@code members} (in order) into {@code partitions} ranges of about equal
   * counts, each a list of per-file byte ranges on record boundaries.
   */
  static List<List<InputSplit>> byteRangeSplits(
      Configuration conf,
      String folder,
      List<String> members,
      CifarFormat format,
      int partitions,
      DataConfig config,
      long[] partial) {
    List<String> uris = new ArrayList<>();
    List<Long> records = new ArrayList<>();
    List<FileStatus> versions = new ArrayList<>();
    long total = 0;
    for (String m : members) {
      String uri = child(folder, baseName(m));
      FileStatus st = status(conf, uri);
      versions.add(st);
      long size = st.getLen();
      long r;
      try {
        r = format.records(uri, size);
      } catch (DataFormatException e) {
        if (!config.skipBadRecords()) {
          throw e;
        }
        r = size / format.recordBytes();
        partial[0]++; // the incomplete last record counts as skipped
      }
      uris.add(uri);
      records.add(r);
      total += r;
    }
    List<List<InputSplit>> out = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      long from = p * total / partitions;
      long to = (p + 1) * total / partitions;
      List<InputSplit> splits = new ArrayList<>();
      long fileStart = 0;
      for (int f = 0; f < uris.size(); f++) {
        long fileEnd = fileStart + records.get(f);
        long a = Math.max(from, fileStart);
        long b = Math.min(to, fileEnd);
        if (a < b) {
          FileStatus st = versions.get(f);
          splits.add(
              InputSplit.cifarBin(uris.get(f), a - fileStart, b - fileStart, (int) a)
                  .planned(new long[] {st.getLen()}, new long[] {st.getModificationTime()}, false));
        }
        fileStart = fileEnd;
      }
      out.add(splits);
    }
    return out;
  }

  // ---- image folders ----

  /**
   * An image folder: {@code <root>/train/<class>/*} and the test folder. The driver lists only the
   * class folders; the images of each class are counted by a Spark job whose tasks list the class
   * folders on the executors, and each input partition gets a range of the global order (class
   * index, then file name) as slices of class folders, which its executor lists again and checks
   * against the count ({@link InputSplit#imageRanges}). So the driver holds a few numbers per
   * class, never per file, however many images there are (ImageNet: 1.28 million).
   *
   * <p>With {@code data.augment} the training images are kept as 8-bit pixels, {@code imageResize}
   * square (the shorter side scaled to it, the centre kept), and cropped every epoch; the test
   * images as the {@code imageSize} centre crop of the same, normalised when evaluated.
   */
  static Source images(
      JavaSparkContext sc,
      DataConfig config,
      String root,
      int partitions,
      Map<String, String> hadoop,
      long seed) {
    Configuration conf = driverConf(sc, hadoop);
    String trainDir = child(root, "train");
    String testDir = config.testPath().isEmpty() ? child(root, "val") : config.testPath();
    List<String> classes = classFolders(conf, trainDir);
    if (classes.isEmpty()) {
      throw new DataFormatException(trainDir + ": expected one folder per class, found none");
    }
    ImageTransform trainT;
    ImageTransform testT;
    if (config.augment().active()) {
      trainT = ImageTransform.pixels(config.imageResize(), config.imageResize());
      testT = ImageTransform.pixels(config.imageSize(), config.imageResize());
    } else {
      float[] mean = floats(config.mean());
      float[] std = floats(config.std());
      trainT =
          new ImageTransform(
              config.imageSize(),
              config.imageResize(),
              config.crop().equals("random"),
              config.flip(),
              mean,
              std,
              seed);
      testT =
          new ImageTransform(
              config.imageSize(), config.imageResize(), false, false, mean, std, seed);
    }
    List<String> testClasses = classFolders(conf, testDir);
    int[] testLabels = new int[testClasses.size()];
    for (int k = 0; k < testClasses.size(); k++) {
      testLabels[k] = classes.indexOf(testClasses.get(k));
      if (testLabels[k] < 0) {
        throw new DataFormatException(
            child(testDir, testClasses.get(k))
                + ": class folder '"
                + testClasses.get(k)
                + "' is not among the training classes "
                + classes);
      }
    }
    int[] trainLabels = java.util.stream.IntStream.range(0, classes.size()).toArray();
    long[] trainCounts = countImages(sc, trainDir, classes, hadoop, partitions);
    long[] testCounts = countImages(sc, testDir, testClasses, hadoop, partitions);
    List<List<InputSplit>> train =
        imageSplits(trainDir, classes, trainLabels, trainCounts, partitions);
    List<List<InputSplit>> test =
        imageSplits(testDir, testClasses, testLabels, testCounts, partitions);
    boolean skip = config.skipBadRecords();
    return new Source(
        read(sc, train, new ReadOptions(classes.size(), null, false, trainT, skip), hadoop),
        read(sc, test, new ReadOptions(classes.size(), null, false, testT, skip), hadoop),
        expected(train),
        expected(test),
        classes.size());
  }

  /** The sub-folder names of {@code dir}, sorted. */
  private static List<String> classFolders(Configuration conf, String dir) {
    List<String> out = new ArrayList<>();
    for (FileStatus s : list(conf, dir)) {
      if (s.isDirectory()) {
        out.add(s.getPath().getName());
      }
    }
    out.sort(null);
    return out;
  }

  /**
   * The number of images in each folder {@code dir/<name>}, counted on the executors (one Spark
   * job; a task lists several folders, streaming their listings and keeping only the count).
   */
  static long[] countImages(
      JavaSparkContext sc,
      String dir,
      List<String> names,
      Map<String, String> hadoop,
      int partitions) {
    if (names.isEmpty()) {
      return new long[0];
    }
    List<String> folders = new ArrayList<>();
    for (String n : names) {
      folders.add(child(dir, n));
    }
    String description = sc.getLocalProperty("spark.job.description");
    sc.setJobDescription("list the image folders of " + dir);
    try {
      List<Long> counts =
          sc.parallelize(folders, Math.max(1, Math.min(folders.size(), 4 * partitions)))
              .map(f -> (long) SplitReader.imageNames(f, SplitReader.configuration(hadoop)).size())
              .collect();
      return counts.stream().mapToLong(Long::longValue).toArray();
    } finally {
      sc.setJobDescription(description);
    }
  }

  /**
   * Cuts the global order (folder by folder in the given order, files by name) into {@code
   * partitions} ranges of about equal size, each a list of class-folder slices.
   */
  static List<List<InputSplit>> imageSplits(
      String dir, List<String> names, int[] labels, long[] counts, int partitions) {
    long n = 0;
    for (long c : counts) {
      n += c;
    }
    if (n > Integer.MAX_VALUE) {
      throw new DataFormatException(dir + ": " + n + " images, more than " + Integer.MAX_VALUE);
    }
    List<List<InputSplit>> out = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      long from = p * n / partitions;
      long to = (p + 1) * n / partitions;
      List<String> folders = new ArrayList<>();
      List<Integer> ls = new ArrayList<>();
      List<Long> ranges = new ArrayList<>();
      long start = 0;
      for (int k = 0; k < names.size(); k++) {
        long end = start + counts[k];
        long a = Math.max(from, start);
        long b = Math.min(to, end);
        if (a < b) {
          folders.add(child(dir, names.get(k)));
          ls.add(labels[k]);
          ranges.add(a - start);
          ranges.add(b - start);
          ranges.add(counts[k]);
        }
        start = end;
      }
      out.add(
          mutable(
              InputSplit.imageRanges(
                  folders,
                  ls.stream().mapToInt(Integer::intValue).toArray(),
                  ranges.stream().mapToLong(Long::longValue).toArray(),
                  (int) from)));
    }
    return out;
  }

  // ---- helpers ----

  /** A mutable one-element list: Spark's Kryo cannot rebuild immutable lists. */
  private static List<InputSplit> mutable(InputSplit split) {
    List<InputSplit> out = new ArrayList<>(1);
    out.add(split);
    return out;
  }

  private static long expected(List<List<InputSplit>> partitions) {
    long n = 0;
    for (List<InputSplit> p : partitions) {
      for (InputSplit s : p) {
        n += s.expected();
      }
    }
    return n;
  }

  private static float[] floats(List<Double> values) {
    float[] out = new float[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i).floatValue();
    }
    return out;
  }

  private static String baseName(String member) {
    return member.substring(member.lastIndexOf('/') + 1);
  }

  private static InputStream open(Configuration conf, String uri) throws IOException {
    try {
      Path p = new Path(uri);
      return p.getFileSystem(conf).open(p);
    } catch (FileNotFoundException e) {
      throw new DataFormatException(uri + ": no such file", e);
    }
  }

  private static boolean exists(Configuration conf, String uri) {
    try {
      Path p = new Path(uri);
      return p.getFileSystem(conf).exists(p);
    } catch (IOException e) {
      throw new DataFormatException(uri + ": cannot reach: " + e, e);
    }
  }

  private static FileStatus status(Configuration conf, String uri) {
    try {
      Path p = new Path(uri);
      return p.getFileSystem(conf).getFileStatus(p);
    } catch (FileNotFoundException e) {
      throw new DataFormatException(uri + ": no such file", e);
    } catch (IOException e) {
      throw new DataFormatException(uri + ": cannot reach: " + e, e);
    }
  }

  private static FileStatus[] list(Configuration conf, String uri) {
    try {
      Path p = new Path(uri);
      return p.getFileSystem(conf).listStatus(p);
    } catch (FileNotFoundException e) {
      throw new DataFormatException(uri + ": no such folder", e);
    } catch (IOException e) {
      throw new DataFormatException(uri + ": cannot reach: " + e, e);
    }
  }
}
