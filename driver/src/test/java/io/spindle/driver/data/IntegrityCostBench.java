package io.spindle.driver.data;

import io.spindle.config.ClusterConfig;
import io.spindle.config.DataConfig;
import io.spindle.config.SyncMode;
import io.spindle.data.CheckedGzipInputStream;
import io.spindle.driver.cluster.SparkContexts;
import io.spindle.testing.TestDatasets;
import io.spindle.worker.VerifiedFiles;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.zip.GZIPInputStream;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Measures what the gzip integrity check costs (a benchmark, not a test; run by {@code
 * deploy/scripts/integrity-cost.sh}, figures in {@code docs/integrity.md}):
 *
 * <ol>
 *   <li>decompressing MNIST's training images in memory with the JDK's {@code GZIPInputStream} and
 *       with {@link CheckedGzipInputStream} (both compute the CRC32; only the latter compares it
 *       and refuses trailing garbage), best of 7;
 *   <li>loading MNIST through {@link DatasetLoader} in {@code local[2]} (read, decode, count,
 *       cache; 2 input partitions) with the verdict cache emptied before the load (every file
 *       verified) and with it full (nothing drained), alternating, median of 9 each, for all 60,000
 *       examples and for {@code data.trainLimit} 1,024 (where the verifying split decompresses the
 *       58,976 examples after the limit only to check the trailer), with the bytes drained.
 * </ol>
 */
public final class IntegrityCostBench {
  private static final int RUNS = 9;

  private IntegrityCostBench() {}

  public static void main(String[] args) throws Exception {
    Path mnist = TestDatasets.mirror().resolve("mnist");
    byte[] gz = Files.readAllBytes(mnist.resolve("train-images-idx3-ubyte.gz"));
    double jdk = Double.MAX_VALUE;
    double checked = Double.MAX_VALUE;
    long size = 0;
    for (int i = 0; i < 7; i++) {
      long t0 = System.nanoTime();
      size = drain(new GZIPInputStream(new ByteArrayInputStream(gz), 1 << 16));
      long t1 = System.nanoTime();
      drain(new CheckedGzipInputStream("train-images", new ByteArrayInputStream(gz)));
      long t2 = System.nanoTime();
      jdk = Math.min(jdk, (t1 - t0) / 1e9);
      checked = Math.min(checked, (t2 - t1) / 1e9);
    }
    System.out.printf(
        Locale.ROOT,
        "decompress train-images (%,d -> %,d bytes): GZIPInputStream %.3f s (%.0f MB/s),"
            + " CheckedGzipInputStream %.3f s (%.0f MB/s)%n",
        gz.length,
        size,
        jdk,
        size / jdk / 1e6,
        checked,
        size / checked / 1e6);

    ClusterConfig cluster = ClusterConfig.of("local[2]", 2, SyncMode.GRADIENT_SHARING, 1);
    try (JavaSparkContext sc =
        new JavaSparkContext(
            SparkContexts.conf(cluster, "integrity-cost").set("spark.ui.enabled", "false"))) {
      sc.setLogLevel("WARN");
      String root = mnist.toUri().toString();
      for (String limit : new String[] {"0", "1024"}) {
        DataConfig config =
            FileFormatsTest.data("dataset=mnist", "trainLimit=" + limit, "inputPartitions=2");
        load(sc, config, root, true); // warm-up (JIT, Spark)
        load(sc, config, root, false);
        // alternating, so that the other jobs of a shared machine weigh on both alike
        double[] verified = new double[RUNS];
        double[] cached = new double[RUNS];
        long drained = 0;
        for (int i = 0; i < RUNS; i++) {
          long before = VerifiedFiles.drainedBytes();
          verified[i] = load(sc, config, root, true);
          drained = VerifiedFiles.drainedBytes() - before;
          cached[i] = load(sc, config, root, false);
        }
        System.out.printf(
            Locale.ROOT,
            "load MNIST, trainLimit %s, 2 partitions: every file verified %.3f s (drained %,d"
                + " bytes per load), verdicts cached %.3f s (medians of %d, alternating)%n",
            limit,
            median(verified),
            drained,
            median(cached),
            RUNS);
      }
    }
  }

  private static double load(JavaSparkContext sc, DataConfig config, String root, boolean fresh) {
    if (fresh) {
      VerifiedFiles.forgetAll();
    }
    long t0 = System.nanoTime();
    try (DistributedDataset d = DatasetLoader.load(sc, config, root, 256, 2, 42)) {
      d.numTrain();
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  private static long drain(InputStream in) throws Exception {
    byte[] buf = new byte[1 << 16];
    long n = 0;
    int r;
    while ((r = in.read(buf)) >= 0) {
      n += r;
    }
    return n;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    java.util.Arrays.sort(s);
    return s[s.length / 2];
  }
}
