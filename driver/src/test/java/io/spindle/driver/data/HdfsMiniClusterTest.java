package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import io.spindle.driver.SparkLocal;
import io.spindle.driver.job.TrainJob;
import io.spindle.testing.TestDatasets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * MNIST on a real HDFS (Hadoop's in-process mini cluster, name node and one data node on
 * 127.0.0.1): the executors read it through hdfs:// and get the same first-epoch batches as from
 * file://, and a run trains from it.
 */
class HdfsMiniClusterTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();
  @TempDir static Path base;
  private static MiniDFSCluster cluster;
  private static String hdfsRoot;

  @BeforeAll
  static void startHdfs() throws Exception {
    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.resolve("hdfs").toString());
    conf.set("dfs.namenode.rpc-address", "127.0.0.1:0");
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    conf.setBoolean("dfs.permissions.enabled", false);
    cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    cluster.waitActive();
    hdfsRoot = "hdfs://127.0.0.1:" + cluster.getNameNodePort() + "/data/mnist";
    FileSystem fs = cluster.getFileSystem();
    Path local = TestDatasets.mirror().resolve("mnist");
    for (String name :
        List.of(
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz")) {
      fs.copyFromLocalFile(
          new org.apache.hadoop.fs.Path(local.resolve(name).toUri()),
          new org.apache.hadoop.fs.Path(hdfsRoot + "/" + name));
    }
  }

  @AfterAll
  static void stopHdfs() {
    if (cluster != null) {
      cluster.shutdown();
    }
  }

  @Test
  void hdfsGivesTheSameFirstEpochBatchesAsFile() {
    String fileRoot = TestDatasets.mirror().resolve("mnist").toUri().toString();
    var config = FileFormatsTest.data("dataset=mnist", "trainLimit=2000", "inputPartitions=3");
    try (DistributedDataset fromHdfs =
            DatasetLoader.load(SPARK.sc(), config, hdfsRoot, 100, 2, 42);
        DistributedDataset fromFile =
            DatasetLoader.load(SPARK.sc(), config, fileRoot, 100, 2, 42)) {
      assertEquals(2000, fromHdfs.numTrain());
      assertEquals(10000, fromHdfs.numTest());
      EpochDeterminismTest.assertSameBatches(
          fromFile.epoch(0).collect(), fromHdfs.epoch(0).collect());
    }
  }

  @Test
  void aDamagedGzipFileOnHdfsFailsTheLoadNamingIt() throws Exception {
    String badRoot = hdfsRoot + "-damaged";
    FileSystem fs = cluster.getFileSystem();
    Path local = TestDatasets.mirror().resolve("mnist");
    for (String name : DamagedMnist.FILES) {
      byte[] b = java.nio.file.Files.readAllBytes(local.resolve(name));
      if (name.equals("train-images-idx3-ubyte.gz")) {
        b = DamagedMnist.flipMiddleByte(b); // the case
      }
      try (var out = fs.create(new org.apache.hadoop.fs.Path(badRoot + "/" + name))) {
        out.write(b);
      }
    }
    var config = FileFormatsTest.data("dataset=mnist", "trainLimit=2000", "inputPartitions=3");
    Exception e =
        org.junit.jupiter.api.Assertions.assertThrows(
            Exception.class,
            () -> DatasetLoader.load(SPARK.sc(), config, badRoot, 100, 2, 42).close());
    assertEquals(
        io.spindle.driver.cli.ExitCode.BAD_DATA, io.spindle.driver.cli.SpindleCli.classify(e));
    String expected = badRoot + "/train-images-idx3-ubyte.gz: gzip member 1 is corrupt";
    assertTrue(
        java.util.stream.Stream.iterate((Throwable) e, t -> t != null, Throwable::getCause)
            .anyMatch(t -> String.valueOf(t.getMessage()).startsWith(expected)),
        "expected '" + expected + "' in " + e);
  }

  @Test
  void trainsFromHdfs(@TempDir Path tmp) throws Exception {
    SpindleConfig config =
        ConfigLoader.load(
            null,
            List.of(
                "data.path=" + hdfsRoot,
                "data.trainLimit=6000",
                "model.layers=[{type: dense, units: 64, activation: relu},"
                    + " {type: output, units: 10, activation: softmax, loss: cross_entropy}]",
                "training.epochs=1",
                "training.batchSize=100"));
    Map<String, Object> summary =
        TrainJob.run(
            SPARK.sc(),
            config,
            DatasetFiles.fetch(config),
            new RunOutput(tmp.resolve("run")),
            new PrintStream(new ByteArrayOutputStream(), true, "UTF-8"));
    assertEquals(60L, ((Number) summary.get("steps")).longValue());
    assertTrue((Double) summary.get("test_accuracy") > 0.8, "accuracy " + summary);
  }
}
