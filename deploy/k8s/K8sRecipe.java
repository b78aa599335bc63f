import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Generates Spindle's Kubernetes recipe from one config (deploy/k8s/spindle-k8s.properties, whose
 * comments document every key): the driver and executor pod templates and the spark-submit command
 * that uses them. A single-file Java program with no dependency but the JDK:
 *
 * <pre>
 *   java deploy/k8s/K8sRecipe.java deploy/k8s/spindle-k8s.properties deploy/k8s/generated
 * </pre>
 *
 * writes driver-pod-template.yaml, executor-pod-template.yaml and submit.sh into the output folder.
 * A bad config is refused with one line naming the key, exit code 2, and nothing written.
 */
public final class K8sRecipe {
  static final String DRIVER_CONTAINER = "spark-kubernetes-driver";
  static final String EXECUTOR_CONTAINER = "spark-kubernetes-executor";

  /** Where deploy/Dockerfile puts the application jar. */
  static final String APP_JAR = "local:///opt/spindle/spindle.jar";

  /** The user of Apache Spark's images (and of deploy/Dockerfile). */
  static final int SPARK_UID = 185;

  private static final Set<String> KEYS =
      Set.of(
          "name",
          "image",
          "imagePullPolicy",
          "apiServer",
          "namespace",
          "serviceAccount",
          "executors",
          "cores",
          "memory",
          "maxBytes",
          "maxPhysicalBytes",
          "memoryOverhead",
          "s3.endpoint",
          "s3.credentialsSecret",
          "s3.pathStyleAccess",
          "train");
  private static final Pattern SIZE = Pattern.compile("[0-9]+[kKmMgGtT]");
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  private final Map<String, String> c;
  private final Path source;

  private K8sRecipe(Map<String, String> config, Path source) {
    this.c = config;
    this.source = source;
  }

  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: java K8sRecipe.java CONFIG.properties OUTPUT_FOLDER");
      System.exit(2);
    }
    K8sRecipe recipe;
    try {
      recipe = load(Path.of(args[0]));
    } catch (IllegalArgumentException e) {
      System.err.println("k8s recipe: " + e.getMessage());
      System.exit(2);
      return;
    }
    try {
      recipe.write(Path.of(args[1]));
    } catch (IOException e) {
      System.err.println("k8s recipe: cannot write " + args[1] + ": " + e);
      System.exit(1);
    }
  }

  /** Reads and checks the config; a bad value is an error naming the file and the key. */
  static K8sRecipe load(Path file) {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      p.load(r);
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
    }
    Map<String, String> c = new LinkedHashMap<>();
    for (String key : p.stringPropertyNames()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException(
            file + ": unknown key '" + key + "'; expected one of " + KEYS);
      }
      c.put(key, p.getProperty(key).trim());
    }
    for (String key : KEYS) {
      if (!key.startsWith("s3.") && c.getOrDefault(key, "").isEmpty()) {
        throw new IllegalArgumentException(file + ": " + key + " must be set, got ''");
      }
    }
    K8sRecipe recipe = new K8sRecipe(c, file);
    recipe.check(DNS_LABEL.matcher(c.get("name")).matches(), "name", "a DNS label");
    recipe.check(DNS_LABEL.matcher(c.get("namespace")).matches(), "namespace", "a DNS label");
    recipe.check(c.get("apiServer").startsWith("https://"), "apiServer", "an https:// URL");
    recipe.check(
        Set.of("Always", "IfNotPresent", "Never").contains(c.get("imagePullPolicy")),
        "imagePullPolicy",
        "Always, IfNotPresent or Never");
    recipe.check(c.get("executors").matches("[1-9][0-9]*"), "executors", "a positive integer");
    recipe.check(c.get("cores").matches("[1-9][0-9]*"), "cores", "a positive integer");
    for (String key : List.of("memory", "maxBytes", "maxPhysicalBytes", "memoryOverhead")) {
      recipe.check(SIZE.matcher(c.get(key)).matches(), key, "a size such as 4g or 4096m");
    }
    recipe.check(
        mib(c.get("memoryOverhead")) >= mib(c.get("maxBytes")) + 400,
        "memoryOverhead",
        "at least maxBytes + 400m (ND4J's off-heap arrays and native libraries)");
    recipe.check(
        mib(c.get("maxPhysicalBytes")) >= mib(c.get("memory")) + mib(c.get("maxBytes")),
        "maxPhysicalBytes",
        "at least memory + maxBytes (heap plus off-heap)");
    recipe.check(
        Set.of("", "true", "false").contains(c.getOrDefault("s3.pathStyleAccess", "")),
        "s3.pathStyleAccess",
        "true or false");
    return recipe;
  }

  private void check(boolean ok, String key, String expected) {
    if (!ok) {
      throw new IllegalArgumentException(
          source + ": " + key + " must be " + expected + ", got '" + c.get(key) + "'");
    }
  }

  /** A size in MiB (Spark's and JavaCPP's binary units). */
  static long mib(String size) {
    long n = Long.parseLong(size.substring(0, size.length() - 1));
    return switch (Character.toLowerCase(size.charAt(size.length() - 1))) {
      case 'k' -> n / 1024;
      case 'm' -> n;
      case 'g' -> n * 1024;
      case 't' -> n * 1024 * 1024;
      default -> throw new IllegalArgumentException("size " + size);
    };
  }

  void write(Path out) throws IOException {
    Files.createDirectories(out);
    Files.writeString(out.resolve("driver-pod-template.yaml"), podTemplate("driver"));
    Files.writeString(out.resolve("executor-pod-template.yaml"), podTemplate("executor"));
    Path submit = out.resolve("submit.sh");
    Files.writeString(submit, submitScript());
    Files.setPosixFilePermissions(submit, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  private String header() {
    return "# Generated by deploy/k8s/K8sRecipe.java from "
        + source.getFileName()
        + "; edit that file and regenerate.\n";
  }

  /**
   * A pod template: what Spark's own pod spec lacks (labels, service account, non-root user, the S3
   * credentials, OpenMP threads, a scratch volume for ND4J's native libraries). Spark fills in the
   * image, command, ports, memory and CPU from the submit's settings.
   */
  String podTemplate(String role) {
    String container = role.equals("driver") ? DRIVER_CONTAINER : EXECUTOR_CONTAINER;
    StringBuilder y = new StringBuilder(header());
    y.append("apiVersion: v1\n");
    y.append("kind: Pod\n");
    y.append("metadata:\n");
    y.append("  labels:\n");
    y.append("    app.kubernetes.io/name: spindle\n");
    y.append("    app.kubernetes.io/instance: ").append(c.get("name")).append('\n');
    y.append("    app.kubernetes.io/component: ").append(role).append('\n');
    y.append("spec:\n");
    if (role.equals("driver")) {
      y.append("  serviceAccountName: ").append(c.get("serviceAccount")).append('\n');
    }
    y.append("  restartPolicy: Never\n");
    y.append("  securityContext:\n");
    y.append("    runAsNonRoot: true\n");
    y.append("    runAsUser: ").append(SPARK_UID).append('\n');
    y.append("    fsGroup: ").append(SPARK_UID).append('\n');
    y.append("  containers:\n");
    y.append("    - name: ").append(container).append('\n');
    y.append("      imagePullPolicy: ").append(c.get("imagePullPolicy")).append('\n');
    y.append("      env:\n");
    y.append("        - name: OMP_NUM_THREADS\n");
    y.append("          value: \"").append(role.equals("driver") ? "1" : c.get("cores"));
    y.append("\"\n");
    String secret = c.getOrDefault("s3.credentialsSecret", "");
    if (!secret.isEmpty()) {
      y.append("      envFrom:\n");
      y.append("        - secretRef:\n");
      y.append("            name: ").append(secret).append('\n');
    }
    y.append("      volumeMounts:\n");
    y.append("        - name: scratch\n");
    y.append("          mountPath: /scratch\n");
    y.append("  volumes:\n");
    y.append("    - name: scratch\n");
    y.append("      emptyDir: {}\n");
    return y.toString();
  }

  /** The spark-submit settings, in order. */
  Map<String, String> sparkConf() {
    String javaOptions =
        "-Dorg.bytedeco.javacpp.maxbytes="
            + c.get("maxBytes")
            + " -Dorg.bytedeco.javacpp.maxphysicalbytes="
            + c.get("maxPhysicalBytes")
            // ND4J's native libraries are unpacked here (an emptyDir: the image stays read-only)
            + " -Dorg.bytedeco.javacpp.cachedir=/scratch/javacpp";
    Map<String, String> conf = new LinkedHashMap<>();
    conf.put("spark.kubernetes.namespace", c.get("namespace"));
    conf.put("spark.kubernetes.container.image", c.get("image"));
    conf.put("spark.kubernetes.container.image.pullPolicy", c.get("imagePullPolicy"));
    conf.put("spark.kubernetes.authenticate.driver.serviceAccountName", c.get("serviceAccount"));
    conf.put("spark.kubernetes.driver.podTemplateFile", "$here/driver-pod-template.yaml");
    conf.put("spark.kubernetes.driver.podTemplateContainerName", DRIVER_CONTAINER);
    conf.put("spark.kubernetes.executor.podTemplateFile", "$here/executor-pod-template.yaml");
    conf.put("spark.kubernetes.executor.podTemplateContainerName", EXECUTOR_CONTAINER);
    conf.put("spark.executor.instances", c.get("executors"));
    conf.put("spark.executor.cores", c.get("cores"));
    conf.put("spark.task.cpus", c.get("cores"));
    conf.put("spark.kubernetes.executor.request.cores", c.get("cores"));
    conf.put("spark.executor.memory", c.get("memory"));
    conf.put("spark.executor.memoryOverhead", c.get("memoryOverhead"));
    conf.put("spark.executor.extraJavaOptions", javaOptions);
    conf.put("spark.driver.cores", "1");
    conf.put("spark.driver.memory", c.get("memory"));
    conf.put("spark.driver.memoryOverhead", c.get("memoryOverhead"));
    conf.put("spark.driver.extraJavaOptions", javaOptions);
    if (!c.getOrDefault("s3.credentialsSecret", "").isEmpty()) {
      conf.put(
          "spark.hadoop.fs.s3a.aws.credentials.provider",
          "com.amazonaws.auth.EnvironmentVariableCredentialsProvider");
    }
    if (!c.getOrDefault("s3.endpoint", "").isEmpty()) {
      conf.put("spark.hadoop.fs.s3a.endpoint", c.get("s3.endpoint"));
    }
    if (!c.getOrDefault("s3.pathStyleAccess", "").isEmpty()) {
      conf.put("spark.hadoop.fs.s3a.path.style.access", c.get("s3.pathStyleAccess"));
    }
    return conf;
  }

  String submitScript() {
    StringBuilder s = new StringBuilder("#!/usr/bin/env bash\n");
    s.append(header());
    s.append("# Submits the run to Kubernetes; the pod templates are read from this folder.\n");
    s.append("set -euo pipefail\n");
    s.append("here=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\n");
    s.append("exec \"${SPARK_HOME:?}/bin/spark-submit\" \\\n");
    s.append("  --master k8s://").append(c.get("apiServer")).append(" \\\n");
    s.append("  --deploy-mode cluster \\\n");
    s.append("  --name ").append(c.get("name")).append(" \\\n");
    s.append("  --class io.spindle.driver.cli.SpindleCli \\\n");
    sparkConf()
        .forEach(
            (k, v) -> s.append("  --conf \"").append(k).append('=').append(v).append("\" \\\n"));
    s.append("  ").append(APP_JAR).append(" \\\n");
    List<String> train =
        new ArrayList<>(List.of("train", "--set", "cluster.workers=" + c.get("executors")));
    train.addAll(List.of(c.get("train").split("\\s+")));
    s.append("  ").append(String.join(" ", train)).append('\n');
    return s.toString();
  }
}
