package io.spindle.deploy;

import io.spindle.driver.cluster.StandaloneCluster;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * {@code spark-submit} of the application jar (client mode unless {@link #deployMode} says
 * otherwise), run as Spark's launcher class {@code org.apache.spark.deploy.SparkSubmit} in a child
 * JVM whose classpath is Spark's only (plus what {@link #classpath} adds, e.g. Spark's YARN support
 * or S3A, and a Hadoop configuration folder), with the settings Spindle needs (deploy/README.md
 * lists the same).
 */
final class Submit {
  private final AppJar app;
  private final String master;
  private final Map<String, String> conf = new LinkedHashMap<>();
  private final Map<String, String> env = new LinkedHashMap<>();
  private final List<String> args = new ArrayList<>();
  private final List<String> extraClasspath = new ArrayList<>();
  private final List<String> driverJvm = new ArrayList<>();
  private String deployMode = "client";
  private final List<String> launchIn = new ArrayList<>();
  private Process process;
  private long startNanos;
  private long endNanos;
  private long matchNanos = -1;
  private Predicate<String> watch = l -> false;
  private final CountDownLatch matched = new CountDownLatch(1);
  private Thread pump;

  private final Path script;

  private Submit(AppJar app, String master, Path script) {
    this.app = app;
    this.master = master;
    this.script = script;
  }

  /** A direct submit to {@code master}, with the settings Spindle needs on a small cluster. */
  static Submit of(AppJar app, String master) {
    Submit s = new Submit(app, master, null);
    String executorJava =
        String.join(" ", StandaloneCluster.JAVA17_OPENS)
            + " -Dorg.bytedeco.javacpp.maxbytes=1G -Dorg.bytedeco.javacpp.maxphysicalbytes=2500M";
    s.conf.put("spark.driver.host", "127.0.0.1");
    s.conf.put("spark.driver.bindAddress", "127.0.0.1");
    s.conf.put("spark.ui.enabled", "false");
    s.conf.put("spark.executor.memory", "1g");
    s.conf.put("spark.executor.cores", "1");
    s.conf.put("spark.cores.max", "2");
    s.conf.put("spark.task.cpus", "1");
    s.conf.put("spark.executor.memoryOverhead", "1536m");
    s.conf.put("spark.executor.extraJavaOptions", executorJava);
    s.conf.put("spark.executorEnv.OMP_NUM_THREADS", "1");
    return s;
  }

  /**
   * A submit through a recipe script of deploy/ (e.g. {@code yarn/spindle-yarn.sh}), run with bash
   * as {@code script [--client] [--conf k=v ...] -- ARGS}, with {@code SPINDLE_JAR} set to the
   * application jar and the environment given by {@link #env}; settings given by {@link #conf} are
   * passed as {@code --conf}.
   */
  static Submit recipe(AppJar app, Path script) {
    return new Submit(app, null, script);
  }

  Submit conf(String key, String value) {
    conf.put(key, value);
    return this;
  }

  Submit env(String key, String value) {
    env.put(key, value);
    return this;
  }

  /**
   * A command prefix the java command line is appended to (e.g. {@code NetworkBed#launcher}: the
   * driver then runs in that network namespace); it must exec the command.
   */
  Submit launchIn(List<String> prefix) {
    launchIn.addAll(prefix);
    return this;
  }

  Submit args(String... a) {
    args.addAll(List.of(a));
    return this;
  }

  /** {@code client} (default: the driver runs in the submit JVM) or {@code cluster}. */
  Submit deployMode(String mode) {
    this.deployMode = mode;
    return this;
  }

  /** Entries appended to the submit JVM's classpath (jars, or a Hadoop configuration folder). */
  Submit classpath(List<String> entries) {
    extraClasspath.addAll(entries);
    return this;
  }

  /** A JVM option of the submit JVM, which in client mode is the driver. */
  Submit driverJvmOption(String option) {
    driverJvm.add(option);
    return this;
  }

  /** Starts the submit; its output goes to {@code log}. */
  Submit start(Path log) throws IOException {
    List<String> cmd = script != null ? recipeCommand() : directCommand();
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    pb.environment().put("OMP_NUM_THREADS", "1");
    if (script != null) {
      pb.environment().put("SPINDLE_JAR", app.jar().toString());
    }
    pb.environment().putAll(env);
    startNanos = System.nanoTime();
    process = pb.start();
    Runtime.getRuntime().addShutdownHook(new Thread(this::destroy, "submit-stop"));
    BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.UTF_8);
    pump =
        new Thread(
            () -> {
              try (BufferedReader in =
                      new BufferedReader(
                          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                  out) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                  out.write(line);
                  out.newLine();
                  out.flush();
                  if (matchNanos < 0 && watch.test(line)) {
                    matchNanos = System.nanoTime() - startNanos;
                    matched.countDown();
                  }
                }
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              } finally {
                matched.countDown();
              }
            },
            "submit-output");
    pump.setDaemon(true);
    return this;
  }

  private List<String> directCommand() {
    List<String> cmd = new ArrayList<>(launchIn);
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // Client mode: the driver runs in this JVM, so its options go on the command line.
    cmd.add("-Xmx1500m");
    cmd.add("-Dorg.bytedeco.javacpp.maxbytes=1G");
    cmd.add("-Dorg.bytedeco.javacpp.maxphysicalbytes=3G");
    cmd.addAll(StandaloneCluster.JAVA17_OPENS);
    cmd.addAll(driverJvm);
    List<String> cp = new ArrayList<>(app.sparkClasspath());
    cp.addAll(extraClasspath);
    cmd.add("-cp");
    cmd.add(String.join(File.pathSeparator, cp));
    cmd.add("org.apache.spark.deploy.SparkSubmit");
    cmd.addAll(List.of("--master", master, "--deploy-mode", deployMode));
    cmd.addAll(List.of("--class", "io.spindle.driver.cli.SpindleCli"));
    conf.forEach((k, v) -> cmd.addAll(List.of("--conf", k + "=" + v)));
    cmd.add(app.jar().toString());
    cmd.addAll(args);
    return cmd;
  }

  private List<String> recipeCommand() {
    List<String> cmd = new ArrayList<>(List.of("bash", script.toString()));
    if (deployMode.equals("client")) {
      cmd.add("--client");
    }
    conf.forEach((k, v) -> cmd.addAll(List.of("--conf", k + "=" + v)));
    if (!driverJvm.isEmpty() || !extraClasspath.isEmpty() || !launchIn.isEmpty()) {
      throw new IllegalStateException(
          "a recipe sets the driver's JVM options and classpath itself");
    }
    cmd.add("--");
    cmd.addAll(args);
    return cmd;
  }

  /**
   * Starts reading the output and returns the nanoseconds from submit to the first line matching
   * {@code line}, or -1 if none came within {@code seconds} or the process ended first.
   */
  long awaitLine(Predicate<String> line, int seconds) throws InterruptedException {
    watch = line;
    pump.start();
    matched.await(seconds, TimeUnit.SECONDS);
    return matchNanos;
  }

  /** Waits for the exit (killing the process after {@code seconds}); returns the exit code. */
  int waitFor(int seconds) throws InterruptedException {
    if (!pump.isAlive() && matchNanos < 0 && pump.getState() == Thread.State.NEW) {
      pump.start();
    }
    if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      process.waitFor();
    }
    endNanos = System.nanoTime();
    pump.join(10_000);
    return process.exitValue();
  }

  /** The submit JVM's process. */
  ProcessHandle handle() {
    return process.toHandle();
  }

  /** Kills the submit and its children if still running. */
  void destroy() {
    if (process != null && process.isAlive()) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
  }

  /** Starts copying the output to the log, without waiting for any line. */
  Submit follow() {
    pump.start();
    return this;
  }

  /** Seconds from submit to exit. */
  double elapsedSeconds() {
    return (endNanos - startNanos) / 1e9;
  }
}
