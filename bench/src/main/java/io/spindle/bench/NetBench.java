package io.spindle.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.config.Compression;
import io.spindle.config.CompressionSpec;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code spindle bench --network RATE}: the collective engine's gradient exchanges over the network
 * test bed ({@code deploy/scripts/netbed.sh}, see docs/network.md): a Spark standalone Master and
 * one Worker per host, each in its own network namespace behind a link shaped to RATE, and the
 * driver in another. For each rate, worker count and compression scheme it runs {@code spindle
 * train} (the configured run, default the MNIST MLP 784-800-800-10 at global batch 256), then
 * prints and writes the table: bytes per worker per step, step time, samples/s, time to the target
 * accuracy, final test accuracy, and the machine's load.
 *
 * <p>The cluster's JVMs run the product's own classpath ({@code deploy/target/lib}); executors get
 * it from the workers' {@code SPARK_DIST_CLASSPATH}, one core and 1 GiB each, {@code
 * spark.cores.max} = the run's workers. {@code none} runs with the default ZeRO-1 sharded
 * optimiser; compressed schemes with a replicated optimiser ({@code cluster.shardOptimizer:
 * false}), since ZeRO-1's fp32 parameter all-gather would send (N-1)/N x 4n bytes every step
 * uncompressed. A run directory that already holds a {@code summary.json} is reported, not run
 * again, so an interrupted bench continues where it stopped.
 */
final class NetBench {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /**
   * What to run.
   *
   * @param rates link rates in tc syntax ({@code 100mbit}, {@code 1gbit})
   * @param workers worker counts (each a standalone Worker in its own namespace)
   * @param schemes compression schemes
   * @param target test accuracy of "time to target"
   * @param config the run's config file (the effective config of the bench command)
   * @param sets extra {@code --set} overrides of every run
   * @param home the Spindle checkout (scripts and {@code deploy/target/lib})
   */
  record Settings(
      List<String> rates,
      List<Integer> workers,
      List<CompressionSpec> schemes,
      double target,
      Path config,
      List<String> sets,
      Path home) {}

  /** One run's row of the table. */
  record Row(
      String rate,
      int workers,
      String scheme,
      boolean shardedOptimizer,
      int steps,
      double bytesPerWorkerPerStep,
      double stepSeconds,
      double computeSeconds,
      double ringSeconds,
      double codecSeconds,
      double samplesPerSecond,
      Double secondsToTarget,
      double finalAccuracy,
      String load) {}

  private NetBench() {}

  static List<Row> run(Settings s, Path dir, PrintStream out) {
    try {
      Files.createDirectories(dir);
      int maxWorkers = s.workers().stream().mapToInt(i -> i).max().orElse(2);
      List<String> hosts = new ArrayList<>(List.of("driver", "master"));
      for (int w = 0; w < maxWorkers; w++) {
        hosts.add("w" + w);
      }
      List<Row> rows = new ArrayList<>();
      try (Bed bed = Bed.up(s.home(), hosts, s.rates().get(0));
          Cluster cluster = Cluster.start(bed, s.home(), dir.resolve("cluster"), maxWorkers)) {
        for (String rate : s.rates()) {
          bed.rate(rate);
          for (int n : s.workers()) {
            for (CompressionSpec scheme : s.schemes()) {
              Path run = dir.resolve(rate).resolve(n + "-workers").resolve(fileName(scheme));
              rows.add(runOne(s, bed, cluster, rate, n, scheme, run, out));
            }
          }
        }
      }
      write(rows, s.target(), dir, out);
      return rows;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String fileName(CompressionSpec scheme) {
    return scheme.toString().replace(':', '-');
  }

  private static Row runOne(
      Settings s,
      Bed bed,
      Cluster cluster,
      String rate,
      int n,
      CompressionSpec scheme,
      Path run,
      PrintStream out)
      throws IOException {
    Path summary = run.resolve("out").resolve("summary.json");
    String load;
    if (Files.exists(summary)) {
      out.printf(Locale.ROOT, "netbench: %s, %d workers, %s: reusing %s%n", rate, n, scheme, run);
      load = Files.exists(run.resolve("load.txt")) ? Files.readString(run.resolve("load.txt")) : "";
    } else {
      Files.createDirectories(run);
      String before = loadAverage();
      out.printf(
          Locale.ROOT,
          "netbench: %s, %d workers, %s (load %s) -> %s%n",
          rate,
          n,
          scheme,
          before,
          run);
      List<String> args = new ArrayList<>(List.of("train", "--config", s.config().toString()));
      args.addAll(List.of("--output", run.resolve("out").toString()));
      List<String> sets = new ArrayList<>(s.sets());
      sets.add("cluster.master=" + cluster.masterUrl());
      sets.add("cluster.workers=" + n);
      sets.add("cluster.sync=collective");
      sets.add("cluster.compression=" + scheme.scheme().configName());
      sets.add("cluster.powersgdRank=" + scheme.rank());
      sets.add("cluster.topkFraction=" + scheme.fraction());
      sets.add("cluster.shardOptimizer=" + (scheme.scheme() == Compression.NONE));
      for (String set : sets) {
        args.addAll(List.of("--set", set));
      }
      int code = cluster.driver(bed, n, args, run.resolve("driver.log"));
      String after = loadAverage();
      load = before + " -> " + after;
      Files.writeString(run.resolve("load.txt"), load);
      if (code != 0 || !Files.exists(summary)) {
        throw new IllegalStateException(
            "the run "
                + run
                + " failed (exit "
                + code
                + "); its log: "
                + run.resolve("driver.log")
                + "\n"
                + tail(run.resolve("driver.log"), 30));
      }
    }
    JsonNode sum = JSON.readTree(summary.toFile());
    Row row =
        new Row(
            rate,
            n,
            scheme.toString(),
            sum.path("optimizer_sharded").asBoolean(),
            sum.path("steps").asInt(),
            sum.path("bytes_sent_per_worker_per_step").asDouble(),
            sum.path("wall_seconds_per_step").asDouble(),
            sum.path("compute_seconds_per_step").asDouble(),
            sum.path("collective_seconds_per_step").asDouble(),
            sum.path("codec_seconds_per_step").asDouble(),
            sum.path("samples_per_second").asDouble(),
            secondsToTarget(run.resolve("out").resolve("metrics.jsonl"), s.target()),
            sum.path("test_accuracy").asDouble(),
            load);
    out.printf(
        Locale.ROOT,
        "netbench: %s, %d workers, %s: %.0f samples/s, %.1f ms per step, %,.0f bytes per worker"
            + " per step, test accuracy %.4f%n",
        rate,
        n,
        scheme,
        row.samplesPerSecond(),
        1e3 * row.stepSeconds(),
        row.bytesPerWorkerPerStep(),
        row.finalAccuracy());
    return row;
  }

  /**
   * Seconds from the start of training to the end of the first epoch whose test accuracy reaches
   * {@code target} (the epoch record's {@code wall_seconds}: training, the rounds' set-up and the
   * evaluations), or null if none does.
   */
  static Double secondsToTarget(Path metrics, double target) throws IOException {
    if (!Files.exists(metrics)) {
      return null;
    }
    for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
      JsonNode rec = JSON.readTree(line);
      if ("epoch".equals(rec.path("type").asText())
          && rec.path("test_accuracy").asDouble() >= target) {
        return rec.path("wall_seconds").asDouble();
      }
    }
    return null;
  }

  /** The table, against {@code none} of the same rate and worker count where it ran. */
  static String table(List<Row> rows, double target) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "| link | workers | compression | optimizer | bytes/worker/step | step ms (compute,"
                + " ring, codec) | samples/s | vs none | s to %.2f | final test acc | vs none"
                + " (points) | load (1-min avg before -> after) |%n",
            target));
    sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Row r : rows) {
      Row none =
          rows.stream()
              .filter(
                  x ->
                      x.rate().equals(r.rate())
                          && x.workers() == r.workers()
                          && x.scheme().equals("none"))
              .findFirst()
              .orElse(null);
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %d | %s | %s | %,.0f | %.1f (%.1f, %.1f, %.1f) | %,.0f | %s | %s | %.4f | %s"
                  + " | %s |%n",
              r.rate(),
              r.workers(),
              r.scheme(),
              r.shardedOptimizer() ? "sharded" : "replicated",
              r.bytesPerWorkerPerStep(),
              1e3 * r.stepSeconds(),
              1e3 * r.computeSeconds(),
              1e3 * r.ringSeconds(),
              1e3 * r.codecSeconds(),
              r.samplesPerSecond(),
              none == null
                  ? "-"
                  : String.format(
                      Locale.ROOT, "%.2fx", r.samplesPerSecond() / none.samplesPerSecond()),
              r.secondsToTarget() == null
                  ? "not reached"
                  : String.format(Locale.ROOT, "%.0f", r.secondsToTarget()),
              r.finalAccuracy(),
              none == null
                  ? "-"
                  : String.format(
                      Locale.ROOT, "%+.2f", 100 * (r.finalAccuracy() - none.finalAccuracy())),
              r.load()));
    }
    return sb.toString();
  }

  private static void write(List<Row> rows, double target, Path dir, PrintStream out)
      throws IOException {
    String table = table(rows, target);
    Files.writeString(dir.resolve("netbench.txt"), table);
    ArrayNode json = JSON.createArrayNode();
    for (Row r : rows) {
      json.add(JSON.valueToTree(r));
    }
    ObjectNode doc = JSON.createObjectNode();
    doc.put("target_accuracy", target);
    doc.set("runs", json);
    Files.writeString(dir.resolve("netbench.json"), JSON.writeValueAsString(doc));
    out.print(table);
  }

  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "unknown";
    }
  }

  static String tail(Path file, int lines) {
    try {
      List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(cannot read " + file + ": " + e + ")";
    }
  }

  /** The bed, through its script: made here, removed (with every process in it) on close. */
  static final class Bed implements AutoCloseable {
    private final Path script;
    private final String name;
    private final Map<String, String> addresses;

    private Bed(Path script, String name, Map<String, String> addresses) {
      this.script = script;
      this.name = name;
      this.addresses = addresses;
    }

    static Bed up(Path home, List<String> hosts, String rate) {
      Path script = home.resolve("deploy/scripts/netbed.sh");
      if (!Files.isExecutable(script)) {
        throw new IllegalStateException("the test bed script is missing: " + script);
      }
      Result check = exec(List.of(script.toString(), "check"), 60);
      if (check.code() != 0) {
        throw new IllegalStateException(
            "this machine cannot make the network test bed (netbed.sh check, exit "
                + check.code()
                + "): "
                + check.output().strip());
      }
      exec(List.of(script.toString(), "cleanup"), 120);
      long pid = ProcessHandle.current().pid();
      String name = "nb" + Long.toString(pid % 1_000_000, 36);
      Result up =
          exec(
              List.of(
                  script.toString(),
                  "up",
                  name,
                  "--hosts",
                  String.join(",", hosts),
                  "--owner",
                  Long.toString(pid),
                  "--rate",
                  rate),
              120);
      if (up.code() != 0) {
        throw new IllegalStateException("netbed.sh up failed (exit " + up.code() + "): " + up);
      }
      Map<String, String> addresses = new LinkedHashMap<>();
      for (String line : up.output().lines().toList()) {
        String[] f = line.trim().split(" ");
        if (f.length == 2 && f[1].startsWith("198.18.")) {
          addresses.put(f[0], f[1]);
        }
      }
      Bed bed = new Bed(script, name, addresses);
      Runtime.getRuntime().addShutdownHook(new Thread(bed::close, "netbench-bed-down"));
      if (addresses.size() != hosts.size()) {
        bed.close();
        throw new IllegalStateException("netbed.sh up printed " + up + ", expected " + hosts);
      }
      return bed;
    }

    String address(String host) {
      return addresses.get(host);
    }

    List<String> launcher(String host) {
      return List.of(script.toString(), "exec", name, host);
    }

    /**
     * HTTP GET from inside {@code host} with bash's {@code /dev/tcp} (HTTP/1.0): the body if the
     * status is 200, else null.
     */
    String httpGet(String host, String address, int port, String path) {
      String get =
          "exec 3<>/dev/tcp/"
              + address
              + "/"
              + port
              + " && printf 'GET "
              + path
              + " HTTP/1.0\\r\\nHost: "
              + address
              + "\\r\\n\\r\\n' >&3 && timeout 5 cat <&3";
      List<String> cmd = new ArrayList<>(launcher(host));
      cmd.addAll(List.of("bash", "-c", get));
      Result r = exec(cmd, 10);
      String out = r.output();
      int headerEnd = out.indexOf("\r\n\r\n");
      if (r.code() != 0 || !out.startsWith("HTTP/1.") || headerEnd < 0) {
        return null;
      }
      return out.split(" ", 3)[1].equals("200") ? out.substring(headerEnd + 4) : null;
    }

    void rate(String rate) {
      Result r = exec(List.of(script.toString(), "rate", name, rate), 60);
      if (r.code() != 0) {
        throw new IllegalStateException("netbed.sh rate failed: " + r);
      }
    }

    @Override
    public void close() {
      exec(List.of(script.toString(), "down", name), 120);
    }
  }

  /** A Spark standalone Master and Workers inside the bed, each in its host's namespace. */
  static final class Cluster implements AutoCloseable {
    private static final List<String> OPENS =
        List.of(
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.net=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
            "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
            "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
            "-Djdk.reflect.useDirectMethodHandle=false");

    private final Path dir;
    private final String classpath;
    private final String masterUrl;
    private final List<Process> processes = new ArrayList<>();

    private Cluster(Path dir, String classpath, String masterUrl) {
      this.dir = dir;
      this.classpath = classpath;
      this.masterUrl = masterUrl;
    }

    static Cluster start(Bed bed, Path home, Path dir, int workers) throws IOException {
      Path lib = home.resolve("deploy/target/lib");
      List<String> jars;
      try (Stream<Path> s = Files.list(lib)) {
        jars = s.filter(p -> p.toString().endsWith(".jar")).map(Path::toString).sorted().toList();
      }
      if (jars.stream().noneMatch(j -> j.contains("spindle-driver"))) {
        throw new IllegalStateException(
            "no build in " + lib + ": run ./spindle once (it builds) or mvn install");
      }
      Files.createDirectories(dir.resolve("spark-home/jars"));
      Files.createDirectories(dir.resolve("spark-home/conf"));
      Cluster c =
          new Cluster(
              dir,
              String.join(File.pathSeparator, jars),
              "spark://" + bed.address("master") + ":7077");
      try {
        c.spawn(
            bed,
            "master",
            "master",
            "org.apache.spark.deploy.master.Master",
            List.of("--host", bed.address("master"), "--port", "7077", "--webui-port", "8080"));
        for (int w = 0; w < workers; w++) {
          String host = "w" + w;
          Path work = dir.resolve("work-" + w);
          Files.createDirectories(work);
          c.spawn(
              bed,
              host,
              "worker-" + w,
              "org.apache.spark.deploy.worker.Worker",
              List.of(
                  "--host",
                  bed.address(host),
                  "--webui-port",
                  "8081",
                  "--cores",
                  "1",
                  "--memory",
                  "3g",
                  "--work-dir",
                  work.toString(),
                  c.masterUrl));
        }
        c.waitForWorkers(bed, workers, Duration.ofSeconds(180));
        return c;
      } catch (RuntimeException | IOException e) {
        c.close();
        throw e;
      }
    }

    String masterUrl() {
      return masterUrl;
    }

    private void spawn(Bed bed, String host, String name, String main, List<String> args)
        throws IOException {
      List<String> cmd = new ArrayList<>(bed.launcher(host));
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.add("-Xmx256m");
      cmd.addAll(OPENS);
      cmd.addAll(List.of("-cp", classpath, main));
      cmd.addAll(args);
      ProcessBuilder pb = new ProcessBuilder(cmd);
      Map<String, String> env = pb.environment();
      env.put("SPARK_HOME", dir.resolve("spark-home").toString());
      env.put("SPARK_CONF_DIR", dir.resolve("spark-home/conf").toString());
      env.put("SPARK_SCALA_VERSION", "2.12");
      env.put("SPARK_LOCAL_IP", bed.address(host));
      env.put("SPARK_LOCAL_HOSTNAME", bed.address(host));
      env.put("SPARK_LOCAL_DIRS", dir.resolve("local-" + name).toString());
      env.put("SPARK_DIST_CLASSPATH", classpath);
      env.put("JAVA_HOME", System.getProperty("java.home"));
      env.put("OMP_NUM_THREADS", "1");
      pb.redirectErrorStream(true);
      pb.redirectOutput(dir.resolve(name + ".log").toFile());
      processes.add(pb.start());
    }

    /**
     * Waits until the master's web UI (read from inside the master's namespace: this JVM sits
     * outside the bed) lists {@code count} alive workers.
     */
    private void waitForWorkers(Bed bed, int count, Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      String address = bed.address("master");
      String last = "";
      while (System.nanoTime() < deadline) {
        for (Process p : processes) {
          if (!p.isAlive()) {
            throw new IllegalStateException(
                "a cluster process exited (code " + p.exitValue() + "); logs in " + dir);
          }
        }
        String body = bed.httpGet("master", address, 8080, "/json/");
        if (body != null) {
          last = body;
          try {
            if (JSON.readTree(body).path("aliveworkers").asInt() >= count) {
              return;
            }
          } catch (IOException e) {
            // a partial page: ask again
          }
        }
        try {
          Thread.sleep(500);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted", e);
        }
      }
      throw new IllegalStateException(
          "timed out after "
              + timeout
              + " waiting for "
              + count
              + " workers registered with "
              + masterUrl
              + " (last page: "
              + last
              + "); logs in "
              + dir);
    }

    /** Runs {@code spindle train ARGS} as a client-mode driver in the bed's driver host. */
    int driver(Bed bed, int workers, List<String> args, Path log) throws IOException {
      String address = bed.address("driver");
      String executorJava =
          String.join(" ", OPENS)
              + " -Dorg.bytedeco.javacpp.maxbytes=1G -Dorg.bytedeco.javacpp.maxphysicalbytes=2500M";
      List<String> cmd = new ArrayList<>(bed.launcher("driver"));
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.addAll(
          List.of(
              "-Xmx2g",
              "-Dorg.bytedeco.javacpp.maxbytes=2G",
              "-Dorg.bytedeco.javacpp.maxphysicalbytes=4G"));
      cmd.addAll(OPENS);
      Map<String, String> conf = new LinkedHashMap<>();
      conf.put("spark.driver.host", address);
      conf.put("spark.driver.bindAddress", address);
      conf.put("spark.ui.enabled", "false");
      conf.put("spark.executor.memory", "1g");
      conf.put("spark.executor.cores", "1");
      conf.put("spark.cores.max", Integer.toString(workers));
      conf.put("spark.task.cpus", "1");
      conf.put("spark.executor.memoryOverhead", "1536m");
      conf.put("spark.executor.extraJavaOptions", executorJava);
      conf.put("spark.executorEnv.OMP_NUM_THREADS", "1");
      conf.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
      cmd.addAll(List.of("-cp", classpath, "io.spindle.driver.cli.SpindleCli"));
      cmd.addAll(args);
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().put("SPARK_LOCAL_IP", address);
      pb.environment().put("SPARK_LOCAL_HOSTNAME", address);
      pb.environment().put("OMP_NUM_THREADS", "1");
      pb.redirectErrorStream(true);
      pb.redirectOutput(log.toFile());
      Process p = pb.start();
      try {
        if (!p.waitFor(6, TimeUnit.HOURS)) {
          p.destroyForcibly();
          return -1;
        }
        return p.exitValue();
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
        return -1;
      }
    }

    @Override
    public void close() {
      for (Process p : processes) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
    }
  }

  record Result(int code, String output) {}

  static Result exec(List<String> cmd, int seconds) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Result(-1, new String(out, StandardCharsets.UTF_8));
      }
      return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running " + cmd, e);
    }
  }
}
