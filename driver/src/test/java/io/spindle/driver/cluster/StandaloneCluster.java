package io.spindle.driver.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A real Spark standalone cluster on 127.0.0.1 for tests: one Master and N Workers (default two),
 * each a child JVM started from a given classpath (default: this test JVM's), with free ports,
 * small cores and memory, and a temporary SPARK_HOME and work folder. {@link #start()} returns once
 * every worker is registered with the master (polled on the master's {@code /json} page); {@link
 * #close()} kills executors, workers and master.
 *
 * <pre>{@code
 * try (StandaloneCluster cluster = StandaloneCluster.builder().workers(2).start()) {
 *   String master = cluster.masterUrl();          // spark://127.0.0.1:<port>
 *   List<Long> pids = cluster.executorPids();     // executor JVMs of running applications
 *   cluster.kill(pids.get(0));                    // fault injection
 * }
 * }</pre>
 *
 * <p>Executors get their classpath from the worker's environment ({@code SPARK_DIST_CLASSPATH}),
 * since the temporary SPARK_HOME has an empty {@code jars} folder; Spark adds the Java 17 module
 * opens to executors itself. Extra Spark settings for master and workers (for example {@code
 * spark.authenticate}, {@code spark.network.crypto.enabled}, {@code spark.worker.resource.*}) go in
 * with {@link Builder#conf}; per-worker environment variables with {@link Builder#workerEnv}.
 *
 * <p>By default every process listens on 127.0.0.1. {@link Builder#host}, {@link
 * Builder#workerHost}, {@link Builder#launchIn} and {@link Builder#httpGet} place master and
 * workers elsewhere, e.g. each in its own network namespace of the deploy module's test bed ({@code
 * NetworkBed}): the address each binds to, a command prefix that starts it there, and how the test
 * reads the master's web UI from outside.
 */
public final class StandaloneCluster implements AutoCloseable {
  /** The module opens Spark needs on Java 17 (as in the parent POM and the launcher). */
  public static final List<String> JAVA17_OPENS =
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

  private static final ObjectMapper JSON = new ObjectMapper();
  private final Builder config;
  private final Path home;
  private final int masterPort;
  private final int masterUiPort;
  private final List<Process> processes = new ArrayList<>();
  private final List<Process> workers = new ArrayList<>();

  private StandaloneCluster(Builder config, Path home) {
    this.config = config;
    this.home = home;
    this.masterPort = freePort();
    this.masterUiPort = freePort();
    // If the test JVM ends without close() (a crash, a kill), the cluster must not outlive it.
    Runtime.getRuntime().addShutdownHook(new Thread(this::destroyAll, "standalone-cluster-stop"));
  }

  public static Builder builder() {
    return new Builder();
  }

  /** How to start a cluster; every setting has a small default. */
  public static final class Builder {
    private List<String> classpath = defaultClasspath();
    private int workers = 2;
    private int coresPerWorker = 1;
    private String memoryPerWorker = "3g";
    private String daemonHeap = "256m";
    private Duration startTimeout = Duration.ofSeconds(180);
    private final Map<String, String> conf = new LinkedHashMap<>();
    private final Map<Integer, Map<String, String>> workerEnv = new LinkedHashMap<>();
    private String masterHost = "127.0.0.1";
    private final Map<Integer, String> workerHosts = new LinkedHashMap<>();
    private Function<String, List<String>> launchIn = name -> List.of();
    private Function<URI, String> httpGet = StandaloneCluster::httpGetDirect;

    private Builder() {}

    /** The address the master binds to and workers reach it at (default 127.0.0.1). */
    public Builder host(String address) {
      this.masterHost = address;
      return this;
    }

    /** The address worker {@code index} (0-based) and its executors bind to (default 127.0.0.1). */
    public Builder workerHost(int index, String address) {
      workerHosts.put(index, address);
      return this;
    }

    /**
     * A command prefix per process ({@code "master"}, {@code "worker-0"}, ...) that the java
     * command line is appended to, e.g. {@code ip netns exec NS}; it must exec the command, so that
     * the process's pid is the JVM's. Default: none.
     */
    public Builder launchIn(Function<String, List<String>> prefixByProcess) {
      this.launchIn = prefixByProcess;
      return this;
    }

    /**
     * How to read a page of the master's web UI: the body, or null when it does not answer.
     * Default: Java's HTTP client from this JVM.
     */
    public Builder httpGet(Function<URI, String> get) {
      this.httpGet = get;
      return this;
    }

    /** Classpath of master, workers and executors; default: the test JVM's. */
    public Builder classpath(List<String> entries) {
      this.classpath = List.copyOf(entries);
      return this;
    }

    public Builder workers(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("workers must be >= 1, got " + n);
      }
      this.workers = n;
      return this;
    }

    public Builder coresPerWorker(int cores) {
      this.coresPerWorker = cores;
      return this;
    }

    /** Memory a worker offers to executors (Spark's size syntax, e.g. {@code 3g}). */
    public Builder memoryPerWorker(String memory) {
      this.memoryPerWorker = memory;
      return this;
    }

    /** A Spark setting for master and workers (a properties file given with --properties-file). */
    public Builder conf(String key, String value) {
      conf.put(key, value);
      return this;
    }

    /** An environment variable of worker {@code index} (0-based) and of its executors. */
    public Builder workerEnv(int index, String key, String value) {
      workerEnv.computeIfAbsent(index, i -> new LinkedHashMap<>()).put(key, value);
      return this;
    }

    public Builder startTimeout(Duration timeout) {
      this.startTimeout = timeout;
      return this;
    }

    /** Starts master and workers and waits until every worker is registered. */
    public StandaloneCluster start() {
      Path home;
      try {
        home = Files.createTempDirectory("spindle-standalone-");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      StandaloneCluster cluster = new StandaloneCluster(this, home);
      try {
        cluster.launch();
        return cluster;
      } catch (RuntimeException | Error e) {
        cluster.close();
        throw e;
      }
    }
  }

  /** The test JVM's classpath (surefire/failsafe put the real one in surefire.test.class.path). */
  public static List<String> defaultClasspath() {
    String cp = System.getProperty("surefire.test.class.path");
    if (cp == null || cp.isBlank()) {
      cp = System.getProperty("java.class.path");
    }
    return Arrays.stream(cp.split(File.pathSeparator)).filter(s -> !s.isBlank()).toList();
  }

  private void launch() {
    try {
      Path sparkHome = home.resolve("spark-home");
      Files.createDirectories(sparkHome.resolve("jars"));
      Files.createDirectories(sparkHome.resolve("conf"));
      Path props = home.resolve("spark.properties");
      Properties p = new Properties();
      p.putAll(config.conf);
      try (var w = Files.newBufferedWriter(props)) {
        p.store(w, "extra Spark settings of the test cluster");
      }
      processes.add(
          spawn(
              "master",
              config.masterHost,
              "org.apache.spark.deploy.master.Master",
              Map.of(),
              "--host",
              config.masterHost,
              "--port",
              Integer.toString(masterPort),
              "--webui-port",
              Integer.toString(masterUiPort),
              "--properties-file",
              props.toString()));
      waitFor(() -> masterJson() != null, "the master's web UI at " + masterUiUrl());
      for (int i = 0; i < config.workers; i++) {
        Path work = home.resolve("work-" + i);
        Files.createDirectories(work);
        String workerHost = config.workerHosts.getOrDefault(i, "127.0.0.1");
        Process worker =
            spawn(
                "worker-" + i,
                workerHost,
                "org.apache.spark.deploy.worker.Worker",
                config.workerEnv.getOrDefault(i, Map.of()),
                "--host",
                workerHost,
                "--webui-port",
                Integer.toString(freePort()),
                "--cores",
                Integer.toString(config.coresPerWorker),
                "--memory",
                config.memoryPerWorker,
                "--work-dir",
                work.toString(),
                "--properties-file",
                props.toString(),
                masterUrl());
        processes.add(worker);
        workers.add(worker);
      }
      waitFor(
          () -> {
            JsonNode json = masterJson();
            return json != null && json.path("aliveworkers").asInt() == config.workers;
          },
          config.workers + " workers registered with " + masterUrl());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Process spawn(
      String name, String host, String mainClass, Map<String, String> env, String... args)
      throws IOException {
    List<String> cmd = new ArrayList<>(config.launchIn.apply(name));
    cmd.add(javaExecutable());
    cmd.add("-Xmx" + config.daemonHeap);
    cmd.addAll(JAVA17_OPENS);
    cmd.add("-cp");
    cmd.add(String.join(File.pathSeparator, config.classpath));
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Path sparkHome = home.resolve("spark-home");
    Map<String, String> e = pb.environment();
    e.put("SPARK_HOME", sparkHome.toString());
    e.put("SPARK_CONF_DIR", sparkHome.resolve("conf").toString());
    e.put("SPARK_SCALA_VERSION", "2.12");
    e.put("SPARK_LOCAL_IP", host);
    e.put("SPARK_LOCAL_DIRS", home.resolve("local").toString());
    e.put("SPARK_DIST_CLASSPATH", String.join(File.pathSeparator, config.classpath));
    e.put("JAVA_HOME", System.getProperty("java.home"));
    e.put("OMP_NUM_THREADS", "1");
    e.putAll(env);
    pb.redirectErrorStream(true);
    pb.redirectOutput(home.resolve(name + ".log").toFile());
    return pb.start();
  }

  private void waitFor(java.util.function.BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + config.startTimeout.toNanos();
    while (System.nanoTime() < deadline) {
      for (Process p : processes) {
        if (!p.isAlive()) {
          throw new IllegalStateException(
              "a cluster process exited (code "
                  + p.exitValue()
                  + ") "
                  + "while waiting for "
                  + what
                  + logs());
        }
      }
      if (condition.getAsBoolean()) {
        return;
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for " + what, e);
      }
    }
    throw new IllegalStateException(
        "timed out after " + config.startTimeout + " waiting for " + what + logs());
  }

  /** The last lines of every process's log, for failure messages. */
  public String logs() {
    StringBuilder sb = new StringBuilder();
    try (Stream<Path> files = Files.list(home)) {
      for (Path f : files.filter(f -> f.toString().endsWith(".log")).sorted().toList()) {
        List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
        sb.append("\n--- ").append(f.getFileName()).append(" (last 30 lines) ---\n");
        lines
            .subList(Math.max(0, lines.size() - 30), lines.size())
            .forEach(l -> sb.append(l).append('\n'));
      }
    } catch (IOException e) {
      sb.append("\n(cannot read logs: ").append(e).append(')');
    }
    return sb.toString();
  }

  /** {@code spark://<master host>:<port>} (default host 127.0.0.1). */
  public String masterUrl() {
    return "spark://" + config.masterHost + ":" + masterPort;
  }

  public String masterUiUrl() {
    return "http://" + config.masterHost + ":" + masterUiPort;
  }

  /** The cluster's temporary folder: SPARK_HOME, work folders, the processes' logs. */
  public Path home() {
    return home;
  }

  /** The master's state ({@code /json}), or null if it does not answer yet. */
  public JsonNode masterJson() {
    String body = config.httpGet.apply(URI.create(masterUiUrl() + "/json/"));
    if (body == null) {
      return null;
    }
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      return null;
    }
  }

  /** GET with Java's HTTP client: the body if the status is 200, else null. */
  private static String httpGetDirect(URI uri) {
    try {
      HttpClient client =
          HttpClient.newBuilder()
              .connectTimeout(Duration.ofSeconds(2))
              .followRedirects(HttpClient.Redirect.NORMAL)
              .build();
      HttpResponse<String> r =
          client.send(
              HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
              HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? r.body() : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** Process ids of the executor JVMs the workers have started (running applications only). */
  public List<Long> executorPids() {
    return workers.stream()
        .flatMap(w -> w.toHandle().descendants())
        .filter(ProcessHandle::isAlive)
        .filter(h -> commandLine(h).contains("CoarseGrainedExecutorBackend"))
        .map(ProcessHandle::pid)
        .sorted()
        .collect(Collectors.toList());
  }

  /** Kills one executor JVM (SIGKILL), as a crash would. */
  public void kill(long pid) {
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
  }

  private static String commandLine(ProcessHandle h) {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline"));
      return new String(raw, StandardCharsets.UTF_8).replace('\0', ' ');
    } catch (IOException e) {
      return h.info().commandLine().orElse("");
    }
  }

  /** Kills executors, workers and the master, then deletes the temporary folder. */
  @Override
  public void close() {
    destroyAll();
    try (Stream<Path> walk = Files.walk(home)) {
      walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // best effort: a temporary folder
    }
  }

  private synchronized void destroyAll() {
    List<ProcessHandle> all = new ArrayList<>();
    for (Process p : processes) {
      p.toHandle().descendants().forEach(all::add);
    }
    processes.forEach(p -> all.add(p.toHandle()));
    all.forEach(ProcessHandle::destroy);
    for (ProcessHandle h : all) {
      try {
        h.onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        h.destroyForcibly();
      }
    }
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String javaExecutable() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
