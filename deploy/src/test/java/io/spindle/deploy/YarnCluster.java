package io.spindle.deploy;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;

/**
 * A YARN cluster with HDFS, in this JVM, on 127.0.0.1: Hadoop's {@code MiniDFSCluster} (a name node
 * and one data node: the data, Spark's staging directory, the run's outputs) and {@code
 * MiniYARNCluster} (a resource manager and one node manager, whose containers are child processes
 * of this JVM). {@link #confDir()} holds the {@code core-site.xml} and {@code yarn-site.xml} a
 * client needs ({@code HADOOP_CONF_DIR}). {@link #close()} stops both; the node manager kills its
 * containers.
 *
 * <p>The node manager checks each container's physical memory (YARN's default), so a container
 * whose JVM heap, ND4J off-heap arrays and native libraries outgrow {@code
 * spark.executor.memoryOverhead} is killed as on a real cluster; the virtual memory check is off,
 * as on most clusters (JVMs reserve far more address space than they use).
 */
final class YarnCluster implements AutoCloseable {
  private final MiniDFSCluster hdfs;
  private final MiniYARNCluster yarn;
  private final Path confDir;

  private YarnCluster(MiniDFSCluster hdfs, MiniYARNCluster yarn, Path confDir) {
    this.hdfs = hdfs;
    this.yarn = yarn;
    this.confDir = confDir;
    // If this JVM ends without close() (killed, crashed), its containers must not outlive it.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly),
                "yarn-containers-stop"));
  }

  /**
   * Starts HDFS and YARN with one node manager offering {@code memoryMb} and {@code vcores} to
   * containers; {@code home} holds HDFS's storage and the client configuration.
   */
  static YarnCluster start(Path home, int memoryMb, int vcores) {
    MiniDFSCluster hdfs = null;
    MiniYARNCluster yarn = null;
    try {
      Configuration dfsConf = new Configuration();
      dfsConf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, home.resolve("hdfs").toString());
      dfsConf.set("dfs.namenode.rpc-address", "127.0.0.1:0");
      dfsConf.set("dfs.namenode.http-address", "127.0.0.1:0");
      dfsConf.set("dfs.datanode.address", "127.0.0.1:0");
      dfsConf.set("dfs.datanode.http.address", "127.0.0.1:0");
      dfsConf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
      dfsConf.setBoolean("dfs.permissions.enabled", false);
      hdfs = new MiniDFSCluster.Builder(dfsConf).numDataNodes(1).build();
      hdfs.waitActive();
      String defaultFs = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();

      YarnConfiguration conf = new YarnConfiguration();
      conf.set("fs.defaultFS", defaultFs);
      conf.set("yarn.resourcemanager.bind-host", "127.0.0.1");
      conf.set("yarn.nodemanager.bind-host", "127.0.0.1");
      conf.set("yarn.resourcemanager.hostname", "127.0.0.1");
      // MiniYARNCluster replaces the node manager's memory (4096) and turns its memory checks off
      // unless told otherwise by these keys of its own
      conf.setInt("yarn.minicluster.yarn.nodemanager.resource.memory-mb", memoryMb);
      conf.setBoolean("yarn.minicluster.control-resource-monitoring", true);
      conf.setInt("yarn.nodemanager.resource.memory-mb", memoryMb);
      conf.setInt("yarn.nodemanager.resource.cpu-vcores", vcores);
      conf.setInt("yarn.scheduler.minimum-allocation-mb", 256);
      conf.setInt("yarn.scheduler.maximum-allocation-mb", memoryMb);
      conf.setInt("yarn.scheduler.maximum-allocation-vcores", vcores);
      conf.setBoolean("yarn.nodemanager.pmem-check-enabled", true);
      conf.setBoolean("yarn.nodemanager.vmem-check-enabled", false);
      conf.set(
          "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage", "100");
      // hadoop-client-minicluster has no capacity-scheduler.xml: one queue, all of the cluster
      conf.set("yarn.scheduler.capacity.root.queues", "default");
      conf.setInt("yarn.scheduler.capacity.root.default.capacity", 100);
      conf.setInt("yarn.scheduler.capacity.root.default.maximum-capacity", 100);
      conf.setFloat("yarn.scheduler.capacity.root.default.user-limit-factor", 1);
      conf.set("yarn.scheduler.capacity.root.default.state", "RUNNING");
      conf.set("yarn.scheduler.capacity.root.default.acl_submit_applications", "*");
      conf.set("yarn.scheduler.capacity.root.default.acl_administer_queue", "*");
      conf.setInt("yarn.scheduler.capacity.node-locality-delay", -1);
      conf.setFloat("yarn.scheduler.capacity.maximum-am-resource-percent", 1.0f);
      // container logs stay (no log aggregation: kept yarn.nodemanager.log.retain-seconds, 3 h);
      // each application's localized copy of the 160 MB application jar goes when it ends
      yarn = new MiniYARNCluster("spindle-yarn-it", 1, 1, 1, 1);
      yarn.init(conf);
      yarn.start();
      Configuration live = yarn.getConfig();
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (live.get(YarnConfiguration.RM_ADDRESS, ":0").endsWith(":0")) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the resource manager did not publish its address");
        }
        Thread.sleep(100);
      }
      if (!yarn.waitForNodeManagersToConnect(60_000)) {
        throw new IllegalStateException("the node manager did not register within 60 s");
      }
      Path confDir = Files.createDirectories(home.resolve("hadoop-conf"));
      Configuration core = new Configuration(false);
      core.set("fs.defaultFS", defaultFs);
      write(core, confDir.resolve("core-site.xml"));
      write(live, confDir.resolve("yarn-site.xml"));
      return new YarnCluster(hdfs, yarn, confDir);
    } catch (Exception e) {
      if (yarn != null) {
        yarn.stop();
      }
      if (hdfs != null) {
        hdfs.shutdown();
      }
      throw new IllegalStateException("cannot start the YARN and HDFS mini clusters: " + e, e);
    }
  }

  private static void write(Configuration conf, Path file) throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      conf.writeXml(out);
    }
  }

  /** {@code HADOOP_CONF_DIR} of a client of this cluster. */
  Path confDir() {
    return confDir;
  }

  /** {@code hdfs://127.0.0.1:<port>}. */
  String hdfsUri() {
    return "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
  }

  FileSystem fs() {
    try {
      return hdfs.getFileSystem();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Process ids of the running Spark executor containers' JVMs. */
  List<Long> executorPids() {
    return ProcessHandle.current()
        .descendants()
        .filter(ProcessHandle::isAlive)
        .filter(h -> commandLine(h).contains("YarnCoarseGrainedExecutorBackend"))
        .map(ProcessHandle::pid)
        .sorted()
        .collect(Collectors.toList());
  }

  /**
   * The stdout of the ApplicationMaster container (in cluster mode: the driver's console) whose
   * text contains {@code marker}, or null if there is none (yet).
   */
  Path driverStdout(String marker) {
    Path root = yarn.getTestWorkDir().toPath();
    try (var walk = Files.walk(root)) {
      for (Path f :
          walk.filter(p -> p.getFileName().toString().equals("stdout"))
              .filter(p -> p.getParent().getFileName().toString().endsWith("_000001"))
              .toList()) {
        if (Files.readString(f, StandardCharsets.UTF_8).contains(marker)) {
          return f;
        }
      }
    } catch (IOException | UncheckedIOException e) {
      return null; // a container folder appeared or went while walking: try again later
    }
    return null;
  }

  /** The last lines of every container log, for failure messages. */
  String logs() {
    StringBuilder sb = new StringBuilder();
    Path root = yarn.getTestWorkDir().toPath();
    List<Path> files = new ArrayList<>();
    try (var walk = Files.walk(root)) {
      walk.filter(f -> f.toString().contains("-logDir-") && Files.isRegularFile(f))
          .filter(f -> f.getFileName().toString().matches("stderr|stdout"))
          .sorted()
          .forEach(files::add);
    } catch (IOException e) {
      return "\n(cannot list container logs under " + root + ": " + e + ")";
    }
    for (Path f : files) {
      try {
        List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
        sb.append("\n--- ").append(root.relativize(f)).append(" (last 25 lines) ---\n");
        lines
            .subList(Math.max(0, lines.size() - 25), lines.size())
            .forEach(l -> sb.append(l).append('\n'));
      } catch (IOException | UncheckedIOException e) {
        sb.append("\n(cannot read ").append(f).append(": ").append(e).append(")\n");
      }
    }
    return sb.toString();
  }

  private static String commandLine(ProcessHandle h) {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline"));
      return new String(raw, StandardCharsets.UTF_8).replace('\0', ' ');
    } catch (IOException e) {
      return h.info().commandLine().orElse("");
    }
  }

  @Override
  public void close() {
    try {
      yarn.stop();
    } finally {
      hdfs.shutdown();
    }
  }
}
