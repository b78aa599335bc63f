package io.spindle.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigException;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.RunOutput;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --output} on a Hadoop file system (HDFS mini cluster on 127.0.0.1): the rule for reusing a
 * directory holds there too, and the run's files are published whole, {@code summary.json} last,
 * from a local staging folder that is deleted afterwards.
 */
class HadoopOutputTest {
  @TempDir static Path base;
  private static MiniDFSCluster cluster;
  private static FileSystem fs;
  private static String root;
  private static Configuration conf;

  @BeforeAll
  static void startHdfs() throws Exception {
    conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.resolve("hdfs").toString());
    conf.set("dfs.namenode.rpc-address", "127.0.0.1:0");
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    conf.setBoolean("dfs.permissions.enabled", false);
    cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    cluster.waitActive();
    fs = cluster.getFileSystem();
    root = "hdfs://127.0.0.1:" + cluster.getNameNodePort();
  }

  @AfterAll
  static void stopHdfs() {
    if (cluster != null) {
      cluster.shutdown();
    }
  }

  private static void put(String uri, String text) throws IOException {
    try (OutputStream out = fs.create(new org.apache.hadoop.fs.Path(uri), true)) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }

  private static String get(String uri) throws IOException {
    try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(uri))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static boolean exists(String uri) throws IOException {
    return fs.exists(new org.apache.hadoop.fs.Path(uri));
  }

  @Test
  void aNonEmptyDirectoryIsRefusedUnlessOverwriteWhichClearsSummaryAndCheckpoints()
      throws Exception {
    String dir = root + "/runs/used";
    OutputDirectory.claim(dir, false, conf); // missing: fine
    put(dir + "/summary.json", "{}");
    put(dir + "/checkpoints/step-000000000010/manifest.json", "{}");
    put(dir + "/metrics.jsonl", "");
    ConfigException e =
        assertThrows(ConfigException.class, () -> OutputDirectory.claim(dir, false, conf));
    assertTrue(e.getMessage().contains(dir + " is not empty"), e.getMessage());
    assertTrue(e.getMessage().contains("checkpoints, metrics.jsonl, summary.json"), e.getMessage());
    OutputDirectory.claim(dir, true, conf);
    assertFalse(exists(dir + "/summary.json"));
    assertFalse(exists(dir + "/checkpoints"));
    assertTrue(exists(dir + "/metrics.jsonl"));
  }

  @Test
  void filesArePublishedWholeWithTheSummaryLastAndTheStagingFolderGoes() throws Exception {
    String dir = root + "/runs/published";
    assertTrue(RunOutput.isRemote(dir));
    assertFalse(RunOutput.isRemote(base.resolve("local").toString()));
    assertFalse(RunOutput.isRemote(base.resolve("local").toUri().toString()));
    Path staging;
    try (RunOutput out = RunOutput.open(dir, conf)) {
      staging = out.dir();
      assertEquals(dir, out.location());
      assertEquals(dir + "/checkpoints", out.checkpointsLocation());
      out.writeConfig(SpindleConfig.defaults());
      assertTrue(exists(dir + "/config.yaml"), "config.yaml is published at once");
      Files.writeString(out.metricsFile(), "{\"type\":\"step\"}\n");
      Files.writeString(out.dir().resolve("report.html"), "<html></html>");
      assertFalse(exists(dir + "/metrics.jsonl"), "nothing else before an epoch ends");
      out.publisher().onEpochEnd(null, null);
      assertEquals("{\"type\":\"step\"}\n", get(dir + "/metrics.jsonl"));
      Files.writeString(
          out.metricsFile(),
          "{\"type\":\"epoch\"}\n",
          StandardCharsets.UTF_8,
          java.nio.file.StandardOpenOption.APPEND);
      out.writeSummary(Map.of("steps", 7));
      assertTrue(get(dir + "/summary.json").contains("\"steps\" : 7"));
      assertTrue(get(dir + "/metrics.jsonl").endsWith("{\"type\":\"epoch\"}\n"));
      assertTrue(get(dir + "/report.html").contains("<html>"));
      for (var s : fs.listStatus(new org.apache.hadoop.fs.Path(dir))) {
        assertFalse(s.getPath().getName().endsWith(".tmp"), s.getPath().toString());
      }
      Files.writeString(out.dir().resolve("spindle.log"), "the run's last words\n");
    }
    assertEquals("the run's last words\n", get(dir + "/spindle.log"), "published when it ends");
    assertFalse(Files.exists(staging), "the staging folder is deleted");

    // a resumed run appends to the published metrics log and run log
    try (RunOutput again = RunOutput.open(dir, conf)) {
      assertEquals(get(dir + "/metrics.jsonl"), Files.readString(again.metricsFile()));
      assertEquals("the run's last words\n", Files.readString(again.dir().resolve("spindle.log")));
    }
  }
}
