package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/** What the application jar must and must not hold for spark-submit. */
class AppJarContentIT {
  @Test
  void holdsSpindleDl4jAndLinuxNativesButNotSparkOrSignatures() throws Exception {
    AppJar app = AppJar.fromBuild();
    // the native build the POM selects (nd4j.native.variant), and only that one
    String packed = io.spindle.runtime.Nd4jRuntime.packedExtension();
    String natives = "org/nd4j/linalg/cpu/nativecpu/bindings/linux-x86_64" + packed + "/";
    try (JarFile jar = new JarFile(app.jar().toFile())) {
      assertEquals(
          "io.spindle.driver.cli.SpindleCli",
          jar.getManifest().getMainAttributes().getValue("Main-Class"));
      for (String needed :
          List.of(
              "io/spindle/driver/cli/SpindleCli.class",
              "io/spindle/worker/PartitionTrainer.class",
              "io/spindle/config/SpindleConfig.class",
              "org/deeplearning4j/nn/multilayer/MultiLayerNetwork.class",
              "org/nd4j/linalg/factory/Nd4j.class",
              natives + "libjnind4jcpu.so",
              natives + "libnd4jcpu.so",
              "org/bytedeco/openblas/linux-x86_64/libopenblas.so.0",
              "org/yaml/snakeyaml/Yaml.class")) {
        assertNotNull(jar.getEntry(needed), needed);
      }
      List<String> names = jar.stream().map(e -> e.getName()).toList();
      for (String name : names) {
        assertTrue(
            !name.startsWith("org/apache/spark/")
                && !name.startsWith("org/apache/hadoop/")
                && !name.startsWith("scala/"),
            "provided by the cluster, must not be shaded in: " + name);
        assertTrue(
            !name.matches("META-INF/[^/]+\\.(SF|DSA|RSA|EC)"),
            "signature file of an original jar: " + name);
        assertTrue(
            !name.endsWith("/libnd4jcpu.so") || name.startsWith(natives),
            "a second ND4J native build (" + name + ") next to " + natives);
      }
      // ServiceLoader files merged, not overwritten: ND4J finds its CPU backend.
      String backends =
          new String(
              jar.getInputStream(
                      jar.getEntry("META-INF/services/org.nd4j.linalg.factory.Nd4jBackend"))
                  .readAllBytes(),
              StandardCharsets.UTF_8);
      assertTrue(backends.contains("org.nd4j.linalg.cpu.nativecpu.CpuBackend"), backends);
    }
  }
}
