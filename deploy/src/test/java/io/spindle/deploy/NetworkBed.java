package io.spindle.deploy;

import io.spindle.driver.cluster.StandaloneCluster;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;

/**
 * The multi-host test bed as a test fixture: hosts in network namespaces joined by rate-limited
 * veth links, made and removed by {@code deploy/scripts/netbed.sh} (its header comment and
 * docs/network.md describe the topology).
 *
 * <pre>{@code
 * try (NetworkBed bed = NetworkBed.up("100mbit", "driver", "master", "w0", "w1")) {
 *   StandaloneCluster cluster = bed.cluster(builder, "master", "w0", "w1");   // one namespace each
 *   Submit.of(app, cluster.masterUrl()).launchIn(bed.launcher("driver"))...  // the driver in its own
 *   bed.rate("1gbit");                                                       // re-shape every link
 * }
 * }</pre>
 *
 * <p>{@link #up} first removes stale beds (those whose owner JVM died without closing them), so a
 * killed test run leaves nothing behind for long; {@link #close} (also run by a shutdown hook)
 * kills every process in the bed's namespaces and deletes them. If the machine cannot make
 * namespaces (not root, no iproute2, a kernel without veth, bridge or tbf), {@link #up} aborts the
 * test with a JUnit assumption that says why, so the test is reported as skipped, never as passed.
 */
final class NetworkBed implements AutoCloseable {
  private static final AtomicInteger BEDS = new AtomicInteger();
  private static final Pattern PROBE =
      Pattern.compile("mbit_per_s=([0-9.]+) rtt_us_median=([0-9.]+)");

  private final Path script;
  private final String name;
  private final Map<String, String> addresses;
  private final Thread hook;
  private String rate;
  private boolean closed;

  private NetworkBed(Path script, String name, Map<String, String> addresses, String rate) {
    this.script = script;
    this.name = name;
    this.addresses = addresses;
    this.rate = rate;
    this.hook = new Thread(this::down, "network-bed-down-" + name);
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** The bed script, from the build ({@code spindle.deploy.dir}) or the working directory. */
  static Path script() {
    String dir = System.getProperty("spindle.deploy.dir", "deploy");
    return Path.of(dir, "scripts", "netbed.sh").toAbsolutePath();
  }

  /**
   * Makes a bed with these hosts, every link limited to {@code rate} (tc syntax: {@code 100mbit},
   * {@code 1gbit}; null = unlimited). Aborts the calling test (skipped, with the reason) when the
   * kernel or the privileges refuse network namespaces.
   */
  static NetworkBed up(String rate, String... hosts) {
    Path script = script();
    assumeAvailable(List.of());
    run(List.of(script.toString(), "cleanup"), 120);
    long pid = ProcessHandle.current().pid();
    String name = Long.toString(pid % 1_000_000, 36) + "x" + BEDS.incrementAndGet();
    List<String> cmd = new ArrayList<>(List.of(script.toString(), "up", name));
    cmd.addAll(List.of("--hosts", String.join(",", hosts), "--owner", Long.toString(pid)));
    if (rate != null) {
      cmd.addAll(List.of("--rate", rate));
    }
    Result up = run(cmd, 120);
    if (up.code != 0) {
      throw new IllegalStateException("netbed.sh up failed (exit " + up.code + "): " + up.output);
    }
    Map<String, String> addresses = new LinkedHashMap<>();
    for (String line : up.output.lines().toList()) {
      String[] f = line.trim().split(" ");
      if (f.length == 2 && f[1].startsWith("198.18.")) {
        addresses.put(f[0], f[1]);
      }
    }
    if (addresses.size() != hosts.length) {
      run(List.of(script.toString(), "down", name), 120);
      throw new IllegalStateException(
          "netbed.sh up printed " + addresses + ", expected " + hosts.length + " hosts");
    }
    return new NetworkBed(script, name, addresses, rate == null ? "unlimited" : rate);
  }

  /**
   * Aborts the calling test (JUnit reports it as skipped, with the reason) when {@code netbed.sh
   * check}, run behind {@code wrapper} (e.g. {@code unshare --user} to test this path; empty
   * normally), says the machine cannot make a bed: exit code 3 (not root, no iproute2, or the
   * kernel refused a namespace, a veth pair, a bridge or tbf). Any other failure fails the test.
   */
  static void assumeAvailable(List<String> wrapper) {
    Path script = script();
    if (!Files.isExecutable(script)) {
      throw new IllegalStateException("the bed script is missing or not executable: " + script);
    }
    List<String> cmd = new ArrayList<>(wrapper);
    cmd.addAll(List.of(script.toString(), "check"));
    Result check = run(cmd, 60);
    Assumptions.assumeTrue(
        check.code != 3,
        "network test bed unavailable on this machine (test skipped): " + check.output.strip());
    if (check.code != 0) {
      throw new IllegalStateException("netbed.sh check failed (exit " + check.code + "): " + check);
    }
  }

  String name() {
    return name;
  }

  /** The rate every link is limited to ({@code unlimited} if none). */
  String rate() {
    return rate;
  }

  /** Host name to address (198.18.0.0/15), in the order given to {@link #up}. */
  Map<String, String> addresses() {
    return Map.copyOf(addresses);
  }

  String address(String host) {
    String a = addresses.get(host);
    if (a == null) {
      throw new IllegalArgumentException(
          "bed " + name + " has no host '" + host + "', only " + addresses.keySet());
    }
    return a;
  }

  /** The network namespace of {@code host} (for {@code ip -n}). */
  String namespace(String host) {
    address(host);
    return "nb-" + name + "-" + host;
  }

  /** A command prefix that runs (execs) the rest of a command line inside {@code host}. */
  List<String> launcher(String host) {
    address(host);
    return List.of(script.toString(), "exec", name, host);
  }

  /** Re-shapes every link of the bed to {@code rate} ({@code unlimited} removes the limit). */
  void rate(String newRate) {
    Result r = run(List.of(script.toString(), "rate", name, newRate), 60);
    if (r.code != 0) {
      throw new IllegalStateException("netbed.sh rate failed (exit " + r.code + "): " + r.output);
    }
    this.rate = newRate;
  }

  /**
   * Runs {@code command} inside {@code host} to completion (at most {@code seconds}) and returns
   * its exit code and output.
   */
  Result exec(String host, int seconds, String... command) {
    List<String> cmd = new ArrayList<>(launcher(host));
    cmd.addAll(List.of(command));
    return run(cmd, seconds);
  }

  /**
   * HTTP GET of {@code uri} from inside {@code host} (bash's {@code /dev/tcp}, HTTP/1.0): the body
   * if the status is 200, else null. The test JVM itself sits outside the bed and cannot reach it.
   */
  String httpGet(String host, URI uri) {
    int port = uri.getPort() < 0 ? 80 : uri.getPort();
    String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    String script =
        "exec 3<>/dev/tcp/"
            + uri.getHost()
            + "/"
            + port
            + " && printf 'GET "
            + path
            + " HTTP/1.0\\r\\nHost: "
            + uri.getHost()
            + "\\r\\n\\r\\n' >&3 && timeout 5 cat <&3";
    Result r = exec(host, 10, "bash", "-c", script);
    if (r.code != 0) {
      return null;
    }
    String out = r.output;
    int headerEnd = out.indexOf("\r\n\r\n");
    if (!out.startsWith("HTTP/1.") || headerEnd < 0 || !out.split(" ", 3)[1].equals("200")) {
      return null;
    }
    return out.substring(headerEnd + 4);
  }

  /**
   * A standalone cluster inside the bed: the master in {@code masterHost}, worker i in {@code
   * workerHosts[i]}, each bound to its host's address; the master's web UI is read from inside the
   * master's namespace.
   */
  StandaloneCluster cluster(
      StandaloneCluster.Builder builder, String masterHost, String... workerHosts) {
    builder.workers(workerHosts.length).host(address(masterHost));
    Map<String, List<String>> prefixes = new LinkedHashMap<>();
    prefixes.put("master", launcher(masterHost));
    for (int i = 0; i < workerHosts.length; i++) {
      builder.workerHost(i, address(workerHosts[i]));
      builder.workerEnv(i, "SPARK_LOCAL_HOSTNAME", address(workerHosts[i]));
      prefixes.put("worker-" + i, launcher(workerHosts[i]));
    }
    return builder
        .launchIn(
            process -> {
              List<String> p = prefixes.get(process);
              if (p == null) {
                throw new IllegalArgumentException("no host of the bed for process " + process);
              }
              return p;
            })
        .httpGet(uri -> httpGet(masterHost, uri))
        .start();
  }

  /** One transfer and ping-pong between two hosts, measured by {@link LinkProbe}. */
  record LinkMeasurement(
      String from, String to, double mbitPerSecond, double rttMicros, String raw) {}

  /**
   * Sends {@code bytes} from {@code from} to {@code to} over TCP and times {@code pings} 8-byte
   * round trips, with {@link LinkProbe} running in both namespaces (child JVMs on this JVM's
   * classpath).
   */
  LinkMeasurement measure(String from, String to, long bytes, int pings) {
    int port = 47_000 + BEDS.get() % 1000;
    List<String> java =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx128m",
            "-cp",
            String.join(File.pathSeparator, StandaloneCluster.defaultClasspath()),
            LinkProbe.class.getName());
    List<String> serve = new ArrayList<>(launcher(to));
    serve.addAll(java);
    serve.addAll(List.of("serve", address(to), Integer.toString(port)));
    Process server;
    try {
      server = new ProcessBuilder(serve).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      List<String> measure = new ArrayList<>(java);
      measure.addAll(
          List.of(
              "measure",
              address(to),
              Integer.toString(port),
              Long.toString(bytes),
              Integer.toString(pings)));
      Result r = exec(from, 600, measure.toArray(String[]::new));
      Matcher m = PROBE.matcher(r.output);
      if (r.code != 0 || !m.find()) {
        throw new IllegalStateException(
            "LinkProbe " + from + " -> " + to + " failed (exit " + r.code + "): " + r.output);
      }
      return new LinkMeasurement(
          from,
          to,
          Double.parseDouble(m.group(1)),
          Double.parseDouble(m.group(2)),
          r.output.strip());
    } finally {
      server.destroyForcibly();
      try {
        server.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * One all-reduce size timed by {@link RingProbe}: values, median and best microseconds, bytes.
   */
  record RingTiming(int values, double medianMicros, double minMicros, long bytesPerAllReduce) {}

  private static final Pattern RING =
      Pattern.compile(
          "values=(\\d+) median_us=([0-9.]+) min_us=([0-9.]+) bytes_per_allreduce=(\\d+)");

  /**
   * Runs the collective engine's ring ({@link RingProbe}: {@code TcpRing}, fp32) with rank i in
   * {@code hosts[i]} and returns rank 0's timings of all-reduces of {@code sizes[j]} values, {@code
   * repeats[j]} times each.
   */
  List<RingTiming> ringAllReduce(List<String> hosts, int[] sizes, int[] repeats) {
    Path dir;
    try {
      dir = Files.createTempDirectory("ring-probe-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Process> ranks = new ArrayList<>();
    List<Path> logs = new ArrayList<>();
    try {
      for (int r = 0; r < hosts.size(); r++) {
        List<String> cmd = new ArrayList<>(launcher(hosts.get(r)));
        cmd.addAll(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m",
                "-cp",
                String.join(File.pathSeparator, StandaloneCluster.defaultClasspath()),
                RingProbe.class.getName(),
                Integer.toString(r),
                Integer.toString(hosts.size()),
                address(hosts.get(r)),
                dir.toString(),
                runs(sizes, repeats)));
        Path log = dir.resolve("log-" + r);
        logs.add(log);
        ranks.add(
            new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start());
      }
      for (int r = 0; r < ranks.size(); r++) {
        Process p = ranks.get(r);
        if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
          throw new IllegalStateException(
              "RingProbe rank "
                  + r
                  + " in "
                  + hosts.get(r)
                  + " failed: "
                  + Files.readString(logs.get(r)));
        }
      }
      List<RingTiming> out = new ArrayList<>();
      Matcher m = RING.matcher(Files.readString(logs.get(0)));
      while (m.find()) {
        out.add(
            new RingTiming(
                Integer.parseInt(m.group(1)),
                Double.parseDouble(m.group(2)),
                Double.parseDouble(m.group(3)),
                Long.parseLong(m.group(4))));
      }
      if (out.size() != sizes.length) {
        throw new IllegalStateException(
            "RingProbe rank 0 printed " + out.size() + " timings, expected " + sizes.length);
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while the ring probe ran", e);
    } finally {
      ranks.forEach(Process::destroyForcibly);
      try (var files = Files.list(dir)) {
        for (Path f : files.toList()) {
          Files.deleteIfExists(f);
        }
        Files.deleteIfExists(dir);
      } catch (IOException e) {
        // best effort: a temporary folder
      }
    }
  }

  private static String runs(int[] sizes, int[] repeats) {
    if (sizes.length != repeats.length) {
      throw new IllegalArgumentException(
          sizes.length + " sizes but " + repeats.length + " repeat counts");
    }
    StringBuilder sb = new StringBuilder();
    for (int j = 0; j < sizes.length; j++) {
      sb.append(j == 0 ? "" : ",").append(sizes[j]).append(':').append(repeats[j]);
    }
    return sb.toString();
  }

  /** Kills every process in the bed's namespaces and deletes them. */
  @Override
  public void close() {
    down();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs (or ran) down() itself
    }
  }

  private synchronized void down() {
    if (closed) {
      return;
    }
    closed = true;
    Result r = run(List.of(script.toString(), "down", name), 120);
    if (r.code != 0) {
      System.err.println("netbed.sh down " + name + " failed (exit " + r.code + "): " + r.output);
    }
  }

  /** Exit code and combined output of a finished command. */
  record Result(int code, String output) {}

  static Result run(List<String> cmd, int seconds) {
    try {
      Path out = Files.createTempFile("netbed-", ".log");
      try {
        Process p =
            new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
          p.waitFor();
          return new Result(
              -1, "timed out after " + seconds + " s: " + cmd + "\n" + Files.readString(out));
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
      } finally {
        Files.deleteIfExists(out);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running " + cmd, e);
    }
  }
}
