package io.spindle.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.spindle.config.ConfigLoader;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.cluster.ResourcePlan;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The Kubernetes recipe, checked as far as a machine without Kubernetes or Docker allows: {@code
 * deploy/k8s/K8sRecipe.java} regenerates the pod templates and the spark-submit command from {@code
 * deploy/k8s/spindle-k8s.properties} exactly as checked in; the pod templates are valid Pods
 * against the Kubernetes object schema (the JSON schema of fabric8's Kubernetes model 6.7.2, the
 * model Spark 3.5.9's Kubernetes support parses pod templates with, made strict as {@code kubectl
 * --validate} is: no field the schema does not name) and load as fabric8 Pods; the command's
 * settings pass Spindle's own resource check for Kubernetes, name the templates and their
 * containers, and run the jar where {@code deploy/Dockerfile} puts it; and every file the
 * Dockerfile copies exists after the build. Nothing here talks to a cluster or builds the image.
 */
class KubernetesRecipeIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path DEPLOY = Path.of(System.getProperty("spindle.deploy.dir", "."));
  private static final Path K8S = DEPLOY.resolve("k8s");
  private static final List<String> GENERATED =
      List.of("driver-pod-template.yaml", "executor-pod-template.yaml", "submit.sh");
  private static JsonSchema podSchema;

  @BeforeAll
  static void loadSchema() throws IOException {
    JsonNode full;
    try (InputStream in =
        KubernetesRecipeIT.class
            .getClassLoader()
            .getResourceAsStream("schema/validation-schema.json")) {
      assertTrue(in != null, "fabric8's schema/validation-schema.json is not on the classpath");
      full = JSON.readTree(in);
    }
    ObjectNode schema = JSON.createObjectNode();
    schema.put("$schema", "http://json-schema.org/draft-07/schema#");
    schema.put("$ref", "#/definitions/kubernetes_core_Pod");
    schema.set("definitions", strict(full.get("definitions").deepCopy()));
    podSchema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V7).getSchema(schema);
  }

  /**
   * Every object type that lists its properties admits no other (fabric8's schema allows any);
   * fabric8's Java-generation keywords go.
   */
  private static JsonNode strict(JsonNode node) {
    if (node.isObject()) {
      ObjectNode o = (ObjectNode) node;
      o.remove(List.of("javaType", "existingJavaType", "javaInterfaces", "javaOmitEmpty"));
      if (o.has("properties")
          && (!o.has("additionalProperties") || o.get("additionalProperties").isBoolean())) {
        o.put("additionalProperties", false);
      }
      for (Iterator<JsonNode> it = o.elements(); it.hasNext(); ) {
        strict(it.next());
      }
    } else if (node.isArray()) {
      node.forEach(KubernetesRecipeIT::strict);
    }
    return node;
  }

  private static Set<String> errors(JsonNode pod) {
    return podSchema.validate(pod).stream()
        .map(ValidationMessage::getMessage)
        .collect(Collectors.toCollection(java.util.TreeSet::new));
  }

  private static JsonNode yaml(String text) {
    return JSON.valueToTree(new Yaml().load(text));
  }

  /** Runs K8sRecipe.java with the JDK's source launcher; returns its exit code. */
  private static int generate(Path config, Path out, Path log) throws Exception {
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                K8S.resolve("K8sRecipe.java").toString(),
                config.toString(),
                out.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "K8sRecipe.java did not finish");
    return p.exitValue();
  }

  @Test
  void generatedFilesAreWhatIsCheckedIn(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("generated");
    assertEquals(
        0,
        generate(K8S.resolve("spindle-k8s.properties"), out, tmp.resolve("gen.log")),
        Files.readString(tmp.resolve("gen.log")));
    for (String name : GENERATED) {
      assertEquals(
          Files.readString(K8S.resolve("generated").resolve(name)),
          Files.readString(out.resolve(name)),
          "deploy/k8s/generated/"
              + name
              + " is stale: run java deploy/k8s/K8sRecipe.java"
              + " deploy/k8s/spindle-k8s.properties deploy/k8s/generated");
    }
  }

  @Test
  void podTemplatesAreValidPodsAndSparkCanLoadThem() throws Exception {
    for (String role : List.of("driver", "executor")) {
      String text = Files.readString(K8S.resolve("generated").resolve(role + "-pod-template.yaml"));
      JsonNode node = yaml(text);
      assertEquals(Set.of(), errors(node), role + " pod template against the Pod schema");
      Pod pod = JSON.treeToValue(node, Pod.class);
      assertEquals("v1", pod.getApiVersion());
      assertEquals("Pod", pod.getKind());
      Container c = pod.getSpec().getContainers().get(0);
      assertEquals("spark-kubernetes-" + role, c.getName());
      assertEquals(185L, pod.getSpec().getSecurityContext().getRunAsUser());
      assertTrue(
          c.getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/scratch")),
          "ND4J's native libraries need a writable /scratch");
    }
  }

  @Test
  void theSchemaCheckRejectsMisspelledAndMistypedFields() throws Exception {
    String text = Files.readString(K8S.resolve("generated").resolve("driver-pod-template.yaml"));
    Set<String> typo = errors(yaml(text.replace("volumeMounts:", "volumeMount:")));
    assertFalse(typo.isEmpty(), "a misspelled field passed");
    assertTrue(typo.toString().contains("volumeMount"), typo.toString());
    Set<String> type = errors(yaml(text.replace("runAsUser: 185", "runAsUser: spark")));
    assertFalse(type.isEmpty(), "a string where an integer belongs passed");
    assertTrue(type.toString().contains("runAsUser"), type.toString());
  }

  @Test
  void submitCommandPassesSpindlesResourceCheckAndMatchesTheTemplatesAndImage(@TempDir Path tmp)
      throws Exception {
    // a spark-submit that prints its arguments: the exact command line submit.sh runs
    Path fakeHome = tmp.resolve("spark");
    Path bin = Files.createDirectories(fakeHome.resolve("bin"));
    Path submit = bin.resolve("spark-submit");
    Files.writeString(submit, "#!/usr/bin/env bash\nprintf '%s\\0' \"$@\"\n");
    Files.setPosixFilePermissions(submit, PosixFilePermissions.fromString("rwxr-xr-x"));
    ProcessBuilder pb =
        new ProcessBuilder("bash", K8S.resolve("generated").resolve("submit.sh").toString());
    pb.environment().put("SPARK_HOME", fakeHome.toString());
    Process p = pb.start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), new String(p.getErrorStream().readAllBytes()));
    List<String> argv = List.of(new String(out, StandardCharsets.UTF_8).split("\0"));

    Map<String, String> conf = new LinkedHashMap<>();
    String master = null;
    String mode = null;
    int i = 0;
    for (; i < argv.size() && argv.get(i).startsWith("--"); i += 2) {
      String value = argv.get(i + 1);
      switch (argv.get(i)) {
        case "--master" -> master = value;
        case "--deploy-mode" -> mode = value;
        case "--conf" ->
            conf.put(
                value.substring(0, value.indexOf('=')), value.substring(value.indexOf('=') + 1));
        default -> {}
      }
    }
    String jar = argv.get(i);
    List<String> train = argv.subList(i + 1, argv.size());
    assertTrue(master != null && master.startsWith("k8s://https://"), master);
    assertEquals("cluster", mode);
    assertEquals("train", train.get(0));

    // the templates spark-submit reads are the generated ones, and name the containers it expects
    for (String role : List.of("driver", "executor")) {
      Path template = Path.of(conf.get("spark.kubernetes." + role + ".podTemplateFile"));
      assertEquals(
          K8S.resolve("generated").resolve(role + "-pod-template.yaml").toRealPath(),
          template.toRealPath());
      Pod pod = JSON.treeToValue(yaml(Files.readString(template)), Pod.class);
      assertEquals(
          conf.get("spark.kubernetes." + role + ".podTemplateContainerName"),
          pod.getSpec().getContainers().get(0).getName());
    }

    // Spindle's own up-front check for a Kubernetes master: memory overhead, JavaCPP limits, cores
    List<String> sets = new ArrayList<>();
    for (int j = 1; j < train.size(); j++) {
      if (train.get(j).equals("--set")) {
        sets.add(train.get(++j));
      }
    }
    SpindleConfig config = ConfigLoader.load(null, sets);
    SparkConf spark = new SparkConf(false).setMaster(master);
    conf.forEach(spark::set);
    ResourcePlan plan = ResourcePlan.of(config, spark);
    assertTrue(plan.containers(), "a k8s:// master runs in containers");
    assertEquals(List.of(), plan.problems());
    assertEquals(
        Integer.parseInt(conf.get("spark.executor.instances")), config.cluster().workers());

    // the jar is where the image puts it
    assertTrue(jar.startsWith("local://"), jar);
    String inImage = jar.substring("local://".length());
    String dockerfile = Files.readString(DEPLOY.resolve("Dockerfile"));
    assertTrue(
        dockerfile.lines().anyMatch(l -> l.startsWith("COPY ") && l.endsWith(" " + inImage)),
        "deploy/Dockerfile copies nothing to " + inImage);
  }

  @Test
  void everyFileTheDockerfileCopiesExistsAfterTheBuild() throws IOException {
    Path root = DEPLOY.toAbsolutePath().getParent();
    List<String> copies =
        Files.readString(DEPLOY.resolve("Dockerfile"))
            .lines()
            .filter(l -> l.startsWith("COPY "))
            .toList();
    assertTrue(copies.size() >= 2, copies.toString());
    for (String line : copies) {
      String source = line.split("\\s+")[1];
      Path dir = root.resolve(source.substring(0, source.lastIndexOf('/') + 1));
      String glob = source.substring(source.lastIndexOf('/') + 1);
      try (Stream<Path> files = Files.list(dir)) {
        List<Path> matched =
            files
                .filter(
                    f ->
                        glob.isEmpty()
                            || dir.getFileSystem()
                                .getPathMatcher("glob:" + glob)
                                .matches(f.getFileName()))
                .toList();
        assertFalse(matched.isEmpty(), "deploy/Dockerfile copies " + source + ": nothing there");
      }
    }
    try (Stream<Path> s3a = Files.list(DEPLOY.resolve("target").resolve("s3a-jars"))) {
      List<String> names = s3a.map(f -> f.getFileName().toString()).sorted().toList();
      assertTrue(names.stream().anyMatch(n -> n.startsWith("hadoop-aws-")), names.toString());
      assertTrue(
          names.stream().anyMatch(n -> n.startsWith("aws-java-sdk-bundle-")), names.toString());
    }
  }

  @Test
  void aBadConfigIsRefusedNamingTheKeyAndWritesNothing(@TempDir Path tmp) throws Exception {
    String good = Files.readString(K8S.resolve("spindle-k8s.properties"));
    Path bad = tmp.resolve("bad.properties");
    Files.writeString(bad, good.replace("memoryOverhead=4g", "memoryOverhead=1g"));
    Path out = tmp.resolve("out");
    Path log = tmp.resolve("bad.log");
    assertEquals(2, generate(bad, out, log));
    String message = Files.readString(log);
    assertTrue(message.contains("memoryOverhead must be at least maxBytes + 400m"), message);
    assertTrue(message.contains("bad.properties"), message);
    assertFalse(Files.exists(out), "nothing is written for a bad config");
  }
}
