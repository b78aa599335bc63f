package io.spindle.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.config.ConfigException;
import io.spindle.config.LayerConfig;
import io.spindle.config.OptimizerConfig;
import io.spindle.config.Precision;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * PyTorch on the same machine, driven through a Python interpreter in which {@code import torch}
 * works: {@code torch_peer.py} (a resource of this module, copied into the run's output directory)
 * trains or profiles the model described by a JSON spec written here from Spindle's config, on the
 * same IDX files Spindle read.
 *
 * <p>The interpreter: {@code $SPINDLE_PYTHON} if set, else the first of {@code /usr/bin/python3}
 * and {@code python3} (on the PATH) that imports torch; {@link #find} says why none did.
 */
public final class TorchPeer {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String SCRIPT = "torch_peer.py";
  static final List<String> CANDIDATES = List.of("/usr/bin/python3", "python3");

  /** The interpreter and torch's version, or why there is none. */
  public record Interpreter(String command, String torchVersion, String unavailable) {
    public boolean available() {
      return unavailable == null;
    }
  }

  /**
   * OpenBLAS's generic x86-64 kernel set: what it falls back to on a CPU its build does not know
   * (Debian 12's OpenBLAS 0.3.21 on Intel's Emerald Rapids, model 207, runs torch.mm at a fifth of
   * the speed of its AVX-512 kernels there).
   */
  static final String GENERIC_CORE = "Prescott";

  /** Kernel sets tried, in this order, when OpenBLAS fell back to {@link #GENERIC_CORE}. */
  static final List<String> CORE_CANDIDATES =
      List.of("SapphireRapids", "Cooperlake", "SkylakeX", "Zen", "Haswell");

  /** n of the probes' n x n float32 products (one thread). */
  static final int PROBE_SIZE = 1024;

  /**
   * The OpenBLAS kernel set the peer runs with.
   *
   * @param detected what OpenBLAS chose by itself (null: torch does not use OpenBLAS)
   * @param used what every peer process runs with ({@code OPENBLAS_CORETYPE} when it differs)
   * @param reason why, in words, with the probes' figures
   * @param probed one-thread torch.mm FLOP/s per kernel set tried ("default": OpenBLAS's choice)
   */
  public record BlasCore(String detected, String used, String reason, Map<String, Double> probed) {
    static BlasCore none(String reason) {
      return new BlasCore(null, null, reason, Map.of());
    }

    /** The environment that makes OpenBLAS use {@link #used}; empty when it chose that itself. */
    Map<String, String> env() {
      return used == null || used.equals(detected) ? Map.of() : Map.of("OPENBLAS_CORETYPE", used);
    }
  }

  private final Interpreter python;
  private final Path script;
  private BlasCore blasCore = BlasCore.none("not probed");

  private TorchPeer(Interpreter python, Path script) {
    this.python = python;
    this.script = script;
  }

  /** Finds an interpreter with torch (never throws: an unavailable one carries the reason). */
  public static Interpreter find() {
    List<String> candidates = new ArrayList<>();
    String given = System.getenv("SPINDLE_PYTHON");
    if (given != null && !given.isBlank()) {
      candidates.add(given);
    } else {
      candidates.addAll(CANDIDATES);
    }
    List<String> reasons = new ArrayList<>();
    for (String c : candidates) {
      try {
        Process p =
            new ProcessBuilder(c, "-c", "import torch; print(torch.__version__)")
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          reasons.add(c + ": no answer within 60 s");
        } else if (p.exitValue() == 0) {
          return new Interpreter(c, out, null);
        } else {
          String[] lines = out.split("\n");
          reasons.add(c + ": " + lines[lines.length - 1]);
        }
      } catch (IOException e) {
        reasons.add(c + ": " + e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        reasons.add(c + ": interrupted");
      }
    }
    return new Interpreter(
        null,
        null,
        "no Python interpreter imports torch ("
            + String.join("; ", reasons)
            + "); on Debian: apt-get install python3-torch libopenblas0-pthread");
  }

  /** A peer using {@code python}, with its script copied into {@code dir}. */
  public static TorchPeer in(Interpreter python, Path dir) {
    if (!python.available()) {
      throw new IllegalStateException(python.unavailable());
    }
    try (InputStream in = TorchPeer.class.getResourceAsStream(SCRIPT)) {
      if (in == null) {
        throw new IllegalStateException("expected the resource " + SCRIPT + " in spindle-bench");
      }
      Files.createDirectories(dir);
      Path script = dir.resolve(SCRIPT);
      Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
      TorchPeer peer = new TorchPeer(python, script);
      peer.blasCore = peer.chooseBlasCore(System.getenv("OPENBLAS_CORETYPE"));
      return peer;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + SCRIPT + " into " + dir + ": " + e, e);
    }
  }

  public Interpreter interpreter() {
    return python;
  }

  /** The OpenBLAS kernel set every run of this peer uses, and why. */
  public BlasCore blasCore() {
    return blasCore;
  }

  /**
   * Gives the peer OpenBLAS's fast kernels on a CPU its build does not recognise. A user's own
   * {@code OPENBLAS_CORETYPE} is kept as it is. When OpenBLAS chose its generic kernels, each of
   * {@link #CORE_CANDIDATES} is timed (one-thread torch.mm, best of 3) and the fastest is used if
   * it beats OpenBLAS's own choice by 10%: what a PyTorch user who profiled would set.
   */
  BlasCore chooseBlasCore(String userCore) {
    if (userCore != null && !userCore.isBlank()) {
      return new BlasCore(
          null, userCore, "OPENBLAS_CORETYPE=" + userCore + " set in the environment", Map.of());
    }
    Map<String, Double> probed = new LinkedHashMap<>();
    JsonNode own;
    try {
      own = probe(Map.of());
    } catch (RuntimeException e) {
      return BlasCore.none("the OpenBLAS probe failed: " + e.getMessage());
    }
    String detected = own.path("blas_core").isTextual() ? own.get("blas_core").asText() : null;
    if (detected == null) {
      return BlasCore.none("torch does not use OpenBLAS here");
    }
    probed.put("default", own.get("flops_per_second").asDouble());
    if (detected.equals(GENERIC_CORE)) {
      for (String core : CORE_CANDIDATES) {
        try {
          probed.put(
              core, probe(Map.of("OPENBLAS_CORETYPE", core)).get("flops_per_second").asDouble());
        } catch (RuntimeException e) { // a kernel set this CPU cannot run: not a candidate
          probed.put(core, 0.0);
        }
      }
    }
    return decide(detected, probed);
  }

  /**
   * The kernel set to use given OpenBLAS's own choice and the probes' FLOP/s ({@code "default"}:
   * OpenBLAS's choice): OpenBLAS's choice unless it is {@link #GENERIC_CORE} and a candidate ran at
   * least 10% faster, then the fastest candidate.
   */
  static BlasCore decide(String detected, Map<String, Double> probed) {
    if (!detected.equals(GENERIC_CORE)) {
      return new BlasCore(detected, detected, "OpenBLAS's own choice", probed);
    }
    double generic = probed.getOrDefault("default", 0.0);
    String best = null;
    double bestFlops = 0;
    for (Map.Entry<String, Double> e : probed.entrySet()) {
      if (!e.getKey().equals("default") && e.getValue() > bestFlops) {
        best = e.getKey();
        bestFlops = e.getValue();
      }
    }
    if (best == null || bestFlops < 1.1 * generic) {
      return new BlasCore(detected, detected, "no kernel set beat OpenBLAS's generic one", probed);
    }
    return new BlasCore(
        detected,
        best,
        String.format(
            Locale.ROOT,
            "OpenBLAS fell back to its generic %s kernels on this CPU; OPENBLAS_CORETYPE=%s runs"
                + " torch.mm %dx%d on one thread at %.1f GFLOP/s against %.1f",
            GENERIC_CORE,
            best,
            PROBE_SIZE,
            PROBE_SIZE,
            bestFlops / 1e9,
            generic / 1e9),
        probed);
  }

  private JsonNode probe(Map<String, String> core) {
    Path out =
        Path.of(System.getProperty("java.io.tmpdir"))
            .resolve(
                "spindle-torch-blas-"
                    + ProcessHandle.current().pid()
                    + "-"
                    + core.getOrDefault("OPENBLAS_CORETYPE", "default")
                    + ".json");
    Map<String, String> env = new HashMap<>(threadsEnv(1));
    env.putAll(core);
    try {
      return run(
          "peak", Map.of(), out, env, "--size", Integer.toString(PROBE_SIZE), "--threads", "1");
    } finally {
      deleteRunFiles(out);
    }
  }

  /**
   * The spec torch_peer.py reads: the model's layers and input, initialisation, optimiser, global
   * batch, epochs, seed, workers, the data files and the precision to compute in ({@link
   * #precision}).
   */
  public static Map<String, Object> spec(
      SpindleConfig config, int numFeatures, Map<String, Path> files) {
    Map<String, Object> s = new LinkedHashMap<>();
    var input = config.model().inputFor(numFeatures);
    Map<String, Object> in = new LinkedHashMap<>();
    switch (input.type()) {
      case IMAGE -> {
        in.put("type", "image");
        in.put("channels", input.channels());
        in.put("height", input.height());
        in.put("width", input.width());
      }
      case FLAT -> {
        in.put("type", "flat");
        in.put("features", numFeatures);
      }
      default ->
          throw new ConfigException(
              "the PyTorch peer reads flat or image inputs, got " + input.describe());
    }
    s.put("input", in);
    List<Map<String, Object>> layers = new ArrayList<>();
    for (LayerConfig l : config.model().layers()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("type", l.type().configName());
      if (l.units() > 0) {
        m.put("units", l.units());
      }
      if (l.activation() != null) {
        m.put("activation", l.activation().configName());
      }
      m.put("dropout", l.dropout());
      if (l.loss() != null) {
        m.put("loss", l.loss().configName());
      }
      if (l.filters() > 0) {
        m.put("filters", l.filters());
      }
      if (l.kernel() > 0) {
        m.put("kernel", l.kernel());
        m.put("stride", l.stride());
        m.put("padding", l.padding());
      }
      layers.add(m);
    }
    s.put("layers", layers);
    s.put("weight_init", config.model().weightInit().configName());
    if (config.model().l1() != 0 || config.model().maxNorm() != 0) {
      throw new ConfigException(
          "model.l1 and model.maxNorm: the PyTorch peer has neither, got l1="
              + config.model().l1()
              + ", maxNorm="
              + config.model().maxNorm());
    }
    s.put("l2", config.model().l2());
    s.put("precision", precision(config.model().precision()));
    OptimizerConfig o = config.optimizer();
    BenchData.updater(o); // the same check as the DL4J baselines: constant rate, adam/sgd/nesterov
    Map<String, Object> opt = new LinkedHashMap<>();
    opt.put("type", o.type().configName());
    opt.put("lr", o.learningRate());
    opt.put("beta1", o.beta1());
    opt.put("beta2", o.beta2());
    opt.put("eps", o.epsilon());
    opt.put("momentum", o.momentum());
    s.put("optimizer", opt);
    s.put("batch", config.training().batchSize());
    s.put("epochs", config.training().epochs());
    s.put("seed", config.training().seed());
    s.put("workers", config.cluster().workers());
    s.put("threads", List.of(1, 2));
    Map<String, Object> data = new LinkedHashMap<>();
    data.put("train_images", files.get(DatasetSpec.TRAIN_IMAGES).toString());
    data.put("train_labels", files.get(DatasetSpec.TRAIN_LABELS).toString());
    data.put("test_images", files.get(DatasetSpec.TEST_IMAGES).toString());
    data.put("test_labels", files.get(DatasetSpec.TEST_LABELS).toString());
    data.put("train_limit", config.data().trainLimit());
    s.put("data", data);
    return s;
  }

  /**
   * What the PyTorch peer computes in for Spindle's {@code model.precision}: {@code bf16} (forward
   * and loss under CPU autocast to bfloat16, float32 master weights and optimiser, as Spindle's
   * bf16) for {@code bf16}, else {@code float32} (the peer has no float64 mode; a float64 run's
   * PyTorch rows say {@code compute_precision: float32}).
   */
  static String precision(Precision p) {
    return p == Precision.BF16 ? Precision.BF16.configName() : Precision.FLOAT32.configName();
  }

  /**
   * Runs {@code torch_peer.py <command> --spec <spec> --out <out> extra...}; returns the output.
   */
  public JsonNode run(
      String command,
      Map<String, Object> spec,
      Path out,
      Map<String, String> env,
      String... extra) {
    try {
      Path specFile = out.resolveSibling(out.getFileName() + ".spec.json");
      JSON.writerWithDefaultPrettyPrinter().writeValue(specFile.toFile(), spec);
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  python.command(),
                  script.toString(),
                  command,
                  "--spec",
                  specFile.toString(),
                  "--out",
                  out.toString()));
      cmd.addAll(List.of(extra));
      Path log = out.resolveSibling(out.getFileName() + ".log");
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.redirectOutput(log.toFile());
      pb.environment().putAll(blasCore.env());
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(6, TimeUnit.HOURS)) {
        p.destroyForcibly();
        throw new IllegalStateException("torch_peer.py " + command + " did not finish in 6 h");
      }
      if (p.exitValue() != 0) {
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        throw new IllegalStateException(
            "torch_peer.py "
                + command
                + " exited with "
                + p.exitValue()
                + " (log "
                + log
                + "): "
                + String.join(" | ", lines.subList(Math.max(0, lines.size() - 3), lines.size())));
      }
      return JSON.readTree(out.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("torch_peer.py " + command + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while torch_peer.py " + command + " ran", e);
    }
  }

  /**
   * PyTorch's matmul peak in FLOP/s: {@code torch.mm} of two n x n matrices of {@code dtype}
   * ({@code float32} or {@code bfloat16}) on {@code threads} threads, measured by the peer.
   */
  public double peakFlops(int n, int threads, String dtype) {
    Path out =
        Path.of(System.getProperty("java.io.tmpdir"))
            .resolve(
                "spindle-torch-peak-"
                    + dtype
                    + "-"
                    + ProcessHandle.current().pid()
                    + "-"
                    + threads
                    + ".json");
    try {
      return run(
              "peak",
              Map.of(),
              out,
              threadsEnv(threads),
              "--size",
              Integer.toString(n),
              "--threads",
              Integer.toString(threads),
              "--dtype",
              dtype)
          .get("flops_per_second")
          .asDouble();
    } finally {
      deleteRunFiles(out);
    }
  }

  private static void deleteRunFiles(Path out) {
    for (String suffix : new String[] {"", ".spec.json", ".log"}) {
      out.resolveSibling(out.getFileName() + suffix).toFile().delete();
    }
  }

  /** The environment that gives a Python process {@code threads} threads in every library. */
  public static Map<String, String> threadsEnv(int threads) {
    String t = Integer.toString(threads);
    return Map.of("OMP_NUM_THREADS", t, "OPENBLAS_NUM_THREADS", t, "MKL_NUM_THREADS", t);
  }
}
