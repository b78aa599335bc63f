package io.spindle.deploy;

import com.amazonaws.auth.AWSStaticCredentialsProvider;
import com.amazonaws.auth.BasicAWSCredentials;
import com.amazonaws.client.builder.AwsClientBuilder;
import com.amazonaws.services.s3.AmazonS3;
import com.amazonaws.services.s3.AmazonS3ClientBuilder;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real S3-compatible server on 127.0.0.1 for tests: S3Proxy ({@code org.gaul:s3proxy}, the jar
 * the build copies to {@code target/it-servers/s3proxy.jar}) in its own JVM, serving the S3 REST
 * API (AWS signature v2/v4 authentication, multipart uploads, ranged reads, listings, copies and
 * batch deletes) over plain HTTP, objects held in memory (jclouds' {@code transient} store: a flat
 * key space as S3's; the {@code filesystem-nio2} store maps keys to files and fails on S3A's
 * directory markers). The buckets are created through the AWS SDK. {@link #close()} stops it.
 *
 * <p>Why S3Proxy: Adobe's S3Mock 3.12 ({@code com.adobe.testing:s3mock}, exec jar) runs here too,
 * but its plain-HTTP connector has no host setting and listens on every interface, which the
 * project's tests must not do; S3Proxy listens on the host of its {@code s3proxy.endpoint}.
 */
final class S3Server implements AutoCloseable {
  static final String ACCESS_KEY = "spindle";
  private final Process process;
  private final int port;
  private final String secret;
  private final Path log;

  private S3Server(Process process, int port, String secret, Path log) {
    this.process = process;
    this.port = port;
    this.secret = secret;
    this.log = log;
  }

  /** Starts the server (config and log in {@code home}) with the given empty buckets. */
  static S3Server start(Path home, String... buckets) {
    String jar = System.getProperty("spindle.s3proxy.jar");
    if (jar == null || !Files.isRegularFile(Path.of(jar))) {
      throw new IllegalStateException(
          "run with failsafe after pre-integration-test (dependency:copy of S3Proxy):"
              + " spindle.s3proxy.jar="
              + jar);
    }
    try {
      Files.createDirectories(home);
      int port = freePort();
      byte[] b = new byte[16];
      new SecureRandom().nextBytes(b);
      String secret = HexFormat.of().formatHex(b);
      Path conf = home.resolve("s3proxy.conf");
      Files.writeString(
          conf,
          String.join(
              "\n",
              "s3proxy.endpoint=http://127.0.0.1:" + port,
              "s3proxy.authorization=aws-v2-or-v4",
              "s3proxy.identity=" + ACCESS_KEY,
              "s3proxy.credential=" + secret,
              "jclouds.provider=transient",
              "jclouds.identity=local",
              "jclouds.credential=local",
              ""),
          StandardCharsets.UTF_8);
      Path log = home.resolve("s3proxy.log");
      List<String> cmd =
          List.of(
              Path.of(System.getProperty("java.home"), "bin", "java").toString(),
              "-Xmx1g",
              "-jar",
              new File(jar).getAbsolutePath(),
              "--properties",
              conf.toString());
      ProcessBuilder pb =
          new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().put("LOG_LEVEL", "warn"); // S3Proxy's logback: no line per request
      Process p = pb.start();
      S3Server server = new S3Server(p, port, secret, log);
      Runtime.getRuntime().addShutdownHook(new Thread(server::close, "s3-server-stop"));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!server.answers()) {
        if (!p.isAlive() || System.nanoTime() > deadline) {
          server.close();
          throw new IllegalStateException(
              "S3Proxy did not start on 127.0.0.1:" + port + ":\n" + Files.readString(log));
        }
        Thread.sleep(100);
      }
      AmazonS3 client =
          AmazonS3ClientBuilder.standard()
              .withEndpointConfiguration(
                  new AwsClientBuilder.EndpointConfiguration(server.endpoint(), "us-east-1"))
              .withPathStyleAccessEnabled(true)
              .withCredentials(
                  new AWSStaticCredentialsProvider(new BasicAWSCredentials(ACCESS_KEY, secret)))
              .build();
      try {
        for (String bucket : buckets) {
          client.createBucket(bucket);
        }
      } finally {
        client.shutdown();
      }
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private boolean answers() {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  /**
   * The S3A settings (Hadoop keys) of a client of this server: its endpoint, path-style bucket
   * addressing, plain HTTP and its credentials. As Spark settings, prefix each key with {@code
   * spark.hadoop.}.
   */
  Map<String, String> s3a() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("fs.s3a.endpoint", endpoint());
    m.put("fs.s3a.endpoint.region", "us-east-1");
    m.put("fs.s3a.path.style.access", "true");
    m.put("fs.s3a.connection.ssl.enabled", "false");
    m.put(
        "fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
    m.put("fs.s3a.access.key", ACCESS_KEY);
    m.put("fs.s3a.secret.key", secret);
    return m;
  }

  /** The server's log, for failure messages. */
  String log() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return "\n--- s3proxy.log (last 30 lines) ---\n"
          + String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "\n(cannot read " + log + ": " + e + ")";
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
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
}
