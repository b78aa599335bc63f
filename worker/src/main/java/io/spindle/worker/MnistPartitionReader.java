package io.spindle.worker;

import io.spindle.data.DataFormatException;
import io.spindle.data.Example;
import io.spindle.data.IdxImages;
import io.spindle.data.IdxReader;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Reads a range of examples of an IDX image/label file pair on an executor, through Hadoop's {@link
 * FileSystem} (file://, hdfs://, s3a://). Pixels are scaled to [0, 1].
 */
public final class MnistPartitionReader {
  private MnistPartitionReader() {}

  /** Examples {@code [from, to)} of the pair; indices are positions in the file. */
  public static List<Example> read(
      String imagesUri, String labelsUri, int numClasses, int from, int to) {
    IdxImages images;
    byte[] labels;
    try (InputStream in = open(imagesUri)) {
      images = IdxReader.readImages(imagesUri, in);
    } catch (IOException e) {
      throw new DataFormatException("cannot read " + imagesUri + ": " + e, e);
    }
    try (InputStream in = open(labelsUri)) {
      labels = IdxReader.readLabels(labelsUri, in, numClasses);
    } catch (IOException e) {
      throw new DataFormatException("cannot read " + labelsUri + ": " + e, e);
    }
    if (images.count() != labels.length) {
      throw new IllegalArgumentException(
          imagesUri
              + " holds "
              + images.count()
              + " images but "
              + labelsUri
              + " holds "
              + labels.length
              + " labels");
    }
    int end = Math.min(to, images.count());
    int d = images.rows() * images.cols();
    byte[] pixels = images.pixels();
    List<Example> out = new ArrayList<>(Math.max(0, end - from));
    for (int i = from; i < end; i++) {
      float[] x = new float[d];
      int base = i * d;
      for (int j = 0; j < d; j++) {
        x[j] = (pixels[base + j] & 0xFF) / 255f;
      }
      out.add(new Example(i, x, labels[i]));
    }
    return out;
  }

  static InputStream open(String uri) throws IOException {
    Path path = new Path(uri);
    FileSystem fs = path.getFileSystem(new Configuration());
    return fs.open(path);
  }
}
