package io.spindle.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The application jar the build made ({@code target/spindle-deploy-VERSION-app.jar}) and the
 * classpath of a cluster that has only what a Spark distribution ships: the launcher's jars ({@code
 * target/lib}) minus every jar whose classes the application jar carries.
 */
record AppJar(Path jar, Path libDir) {
  static AppJar fromBuild() {
    String jar = System.getProperty("spindle.app.jar");
    String lib = System.getProperty("spindle.lib.dir");
    if (jar == null || lib == null || !Files.isRegularFile(Path.of(jar))) {
      throw new IllegalStateException(
          "run with failsafe after 'package': spindle.app.jar=" + jar + ", spindle.lib.dir=" + lib);
    }
    return new AppJar(Path.of(jar), Path.of(lib));
  }

  private static final List<String> APP_ONLY =
      List.of(
          "io/spindle/",
          "onnx/",
          "org/eclipse/deeplearning4j/",
          "org/deeplearning4j/",
          "org/nd4j/",
          "org/bytedeco/",
          "it/unimi/",
          "oshi/",
          "com/sun/jna/",
          "org/threeten/",
          "com/google/flatbuffers/",
          "net/ericaro/",
          "com/jakewharton/");

  /**
   * A standalone cluster for this jar's submissions: a Master and two Workers of one core and 2 GB
   * each on 127.0.0.1, whose classpath is only what a Spark distribution ships.
   */
  io.spindle.driver.cluster.StandaloneCluster startTwoWorkerCluster() {
    return io.spindle.driver.cluster.StandaloneCluster.builder()
        .classpath(sparkClasspath())
        .workers(2)
        .coresPerWorker(1)
        .memoryPerWorker("2g")
        .start();
  }

  /** Jars of target/lib that a Spark cluster has (see the class comment). */
  List<String> sparkClasspath() {
    List<String> cp = new ArrayList<>();
    try (Stream<Path> libs = Files.list(libDir)) {
      for (Path lib : libs.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
        if (!isAppOnly(lib)) {
          cp.add(lib.toString());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return cp;
  }

  /**
   * The jars of this test JVM's classpath whose file names start with one of {@code artifacts}
   * (e.g. {@code spark-yarn_}, {@code hadoop-aws-}): what a cluster adds to a Spark distribution
   * for YARN or S3, taken from the test dependencies so that their versions are the POM's.
   */
  static List<String> testJars(String... artifacts) {
    List<String> out = new ArrayList<>();
    for (String entry : io.spindle.driver.cluster.StandaloneCluster.defaultClasspath()) {
      String name = Path.of(entry).getFileName().toString();
      if (name.endsWith(".jar") && List.of(artifacts).stream().anyMatch(name::startsWith)) {
        out.add(entry);
      }
    }
    if (out.size() < artifacts.length) {
      throw new IllegalStateException(
          "expected jars " + List.of(artifacts) + " on the test classpath, found " + out);
    }
    return out;
  }

  /** Whether any entry of {@code jar} belongs to the application's own stack. */
  private static boolean isAppOnly(Path jar) throws IOException {
    try (ZipFile z = new ZipFile(jar.toFile())) {
      Enumeration<? extends ZipEntry> entries = z.entries();
      while (entries.hasMoreElements()) {
        String name = entries.nextElement().getName();
        if (APP_ONLY.stream().anyMatch(name::startsWith)) {
          return true;
        }
      }
    }
    return false;
  }
}
