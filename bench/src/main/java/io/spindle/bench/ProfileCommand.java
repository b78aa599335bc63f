package io.spindle.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.spindle.bench.StepProfiler.Row;
import io.spindle.config.LayerConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetSpec;
import io.spindle.data.Example;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.worker.MnistPartitionReader;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code spindle bench --profile}: where one worker's training step goes, per layer and per phase,
 * on one thread (one core), beside the time PyTorch takes for the same layers at the same shapes on
 * one thread. Writes {@code profile.json} (every row) and {@code profile.md} (the tables).
 *
 * <p>Parts: {@link StepProfiler} (the collective step of rank 0, layer by layer, with DL4J's own
 * loop), {@link Primitives} (each dense layer's operations alone), {@link RingTime} (the ring's
 * reduce-scatter and all-gather over loopback), {@link OneDnnTrace} (oneDNN's own per-primitive
 * times, reorders included, from a child JVM) and torch_peer.py's {@code profile} (PyTorch's
 * per-layer forward and backward, loss, optimiser, whole step).
 */
public final class ProfileCommand {
  public static final int DEFAULT_STEPS = 200;
  static final int WARMUP = 30;
  static final int ONEDNN_STEPS = 20;

  private ProfileCommand() {}

  public static void run(SpindleConfig config, int steps, Path dir, PrintStream console) {
    int workers = config.cluster().workers();
    int batch = config.training().batchSize() / workers;
    Map<String, Path> files = io.spindle.driver.data.DatasetFiles.fetch(config);
    int numClasses = DatasetSpec.named(config.data().dataset()).numClasses();
    List<Example> train = read(files, numClasses, batch * (WARMUP + steps));
    int numInputs = train.get(0).features().length;
    Nd4jRuntime.configureThreads(1);
    String load = loadAverage();
    console.printf(
        Locale.ROOT,
        "profile: %d steps of %d examples (global batch %d / %d workers), one thread; load %s%n",
        steps,
        batch,
        config.training().batchSize(),
        workers,
        load);
    List<Row> rows =
        new ArrayList<>(StepProfiler.run(config, train, numClasses, batch, workers, WARMUP, steps));
    long numParams =
        io.spindle.bench.LayerShapes.of(config.model(), numInputs).stream()
            .mapToLong(io.spindle.bench.LayerShapes.Shape::parameters)
            .sum();
    rows.add(
        new Row(
            "ring",
            "ring reduce-scatter + all-gather (" + workers + " peers, loopback, alone)",
            "ring",
            RingTime.millisPerStep((int) numParams, workers, 20, Math.min(steps, 100))));
    List<Row> fast = new ArrayList<>();
    if (io.spindle.model.fast.FastDenseNet.supports(config.model())) {
      fast.addAll(
          StepProfiler.runFast(
              "fast",
              (net, n, b) -> io.spindle.model.fast.FastDenseNet.of(net, config.model(), b),
              config,
              train,
              numClasses,
              batch,
              workers,
              WARMUP,
              steps));
    } else if (io.spindle.model.fast.FastConvNet.supports(config.model(), numInputs)) {
      for (boolean nhwc : new boolean[] {true, false}) {
        fast.addAll(
            StepProfiler.runFast(
                nhwc ? "fast" : "fast-nchw",
                (net, n, b) ->
                    io.spindle.model.fast.FastConvNet.of(net, config.model(), n, b, nhwc),
                config,
                train,
                numClasses,
                batch,
                workers,
                WARMUP,
                steps));
      }
    }
    List<Row> primitives = Primitives.run(config.model(), numInputs, batch, 50);
    console.println("profile: oneDNN trace (child JVM, DNNL_VERBOSE=1) ...");
    List<Row> onednn = OneDnnTrace.run(config, batch, workers, ONEDNN_STEPS, dir);
    Map<String, Double> torch = new LinkedHashMap<>();
    String torchInfo = torchProfile(config, files, numInputs, batch, steps, dir, torch, console);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("created", Instant.now().toString());
    json.put("load_average", load);
    json.put("batch_per_worker", batch);
    json.put("workers", workers);
    json.put("steps", steps);
    json.put("threads", 1);
    json.put("torch", torchInfo);
    json.put("rows", toMaps(rows, torch));
    json.put("fast", toMaps(fast, Map.of()));
    json.put("primitives", toMaps(primitives, Map.of()));
    json.put("onednn", toMaps(onednn, Map.of()));
    String md =
        markdown(
            config, batch, workers, steps, load, torchInfo, rows, fast, primitives, onednn, torch);
    try {
      Files.createDirectories(dir);
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .writeValue(dir.resolve("profile.json").toFile(), json);
      Files.writeString(dir.resolve("profile.md"), md, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the profile into " + dir + ": " + e, e);
    }
    console.print(md);
  }

  /**
   * {@code bench --profile-collective}: the collective step's phases in wall and thread CPU time
   * ({@link CollectiveProfile}) with the fast kernels and with DL4J's layers: one worker alone, the
   * workers side by side without the ring, the full collective step on a loopback TCP ring and on
   * the in-process ring.
   */
  public static void runCollective(SpindleConfig config, int steps, PrintStream console) {
    int workers = config.cluster().workers();
    int batch = config.training().batchSize() / workers;
    Map<String, Path> files = io.spindle.driver.data.DatasetFiles.fetch(config);
    int numClasses = DatasetSpec.named(config.data().dataset()).numClasses();
    List<Example> train = read(files, numClasses, batch * workers * 64);
    console.printf(
        Locale.ROOT,
        "collective profile: %d steps (after %d warm-up) of %d examples per worker, %d workers;"
            + " load %s%n",
        steps,
        WARMUP,
        batch,
        workers,
        loadAverage());
    for (io.spindle.config.Kernels k :
        new io.spindle.config.Kernels[] {
          io.spindle.config.Kernels.FAST, io.spindle.config.Kernels.DL4J
        }) {
      CollectiveProfile.run(config, k, train, numClasses, workers, WARMUP, steps, console);
    }
    long numParams =
        io.spindle.model.ModelFactory.create(
                config.model(), train.get(0).features().length, config.training().seed())
            .numParams();
    OptimizerProfile.run((int) (numParams / workers), Math.min(steps, 100), console);
    if (workers > 1) {
      OptimizerProfile.run((int) numParams, Math.min(steps, 100), console);
    }
    console.printf(Locale.ROOT, "load after: %s%n", loadAverage());
  }

  private static List<Example> read(Map<String, Path> files, int numClasses, int limit) {
    return MnistPartitionReader.read(
        files.get(DatasetSpec.TRAIN_IMAGES).toUri().toString(),
        files.get(DatasetSpec.TRAIN_LABELS).toUri().toString(),
        numClasses,
        0,
        limit);
  }

  /** PyTorch's rows keyed like Spindle's ({@code L<i> ...|phase}); returns a description. */
  private static String torchProfile(
      SpindleConfig config,
      Map<String, Path> files,
      int numInputs,
      int batch,
      int steps,
      Path dir,
      Map<String, Double> out,
      PrintStream console) {
    TorchPeer.Interpreter python = TorchPeer.find();
    if (!python.available()) {
      console.println("profile: PyTorch skipped: " + python.unavailable());
      return "skipped: " + python.unavailable();
    }
    TorchPeer peer = TorchPeer.in(python, dir);
    console.println(
        "profile: PyTorch "
            + python.torchVersion()
            + " ("
            + python.command()
            + "), OpenBLAS kernels "
            + peer.blasCore().used()
            + " ("
            + peer.blasCore().reason()
            + ") ...");
    Map<String, Object> spec = TorchPeer.spec(config, numInputs, files);
    spec.put("profile", Map.of("batch", batch, "steps", steps, "threads", 1));
    JsonNode r =
        peer.run("profile", spec, dir.resolve("torch-profile.json"), TorchPeer.threadsEnv(1));
    List<LayerConfig> layers = config.model().layers();
    for (JsonNode row : r.get("rows")) {
      int layer = row.get("layer").asInt();
      String phase = row.get("phase").asText();
      String key =
          layer >= 0
              ? ProfileRows.layerName(layer, layers.get(layer)) + "|" + phase
              : "torch:" + row.get("part").asText();
      out.put(key, row.get("ms").asDouble());
    }
    return "PyTorch "
        + r.get("torch").asText()
        + " via "
        + python.command()
        + ", 1 thread, BLAS "
        + r.path("blas").asText();
  }

  private static List<Map<String, Object>> toMaps(List<Row> rows, Map<String, Double> torch) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Row r : rows) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("group", r.group());
      m.put("part", r.part());
      m.put("phase", r.phase());
      m.put("spindle_ms", r.ms());
      Double t = torch.get(r.part() + "|" + r.phase());
      if (t != null) {
        m.put("pytorch_ms", t);
      }
      out.add(m);
    }
    for (Map.Entry<String, Double> e : torch.entrySet()) {
      if (e.getKey().startsWith("torch:")) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("group", "pytorch");
        m.put("part", e.getKey().substring(6));
        m.put("pytorch_ms", e.getValue());
        out.add(m);
      }
    }
    return out;
  }

  static String markdown(
      SpindleConfig config,
      int batch,
      int workers,
      int steps,
      String load,
      String torchInfo,
      List<Row> rows,
      List<Row> fast,
      List<Row> primitives,
      List<Row> onednn,
      Map<String, Double> torch) {
    StringBuilder s = new StringBuilder();
    s.append(
        String.format(
            Locale.ROOT,
            "Step of one worker: %d examples (global batch %d over %d workers), one thread, mean"
                + " of %d steps; load average %s. %s.%n%n",
            batch,
            config.training().batchSize(),
            workers,
            steps,
            load,
            torchInfo));
    s.append("| part | phase | Spindle ms | PyTorch ms | Spindle / PyTorch |\n");
    s.append("|---|---|---:|---:|---:|\n");
    double total = 0;
    double torchLayers = 0;
    Map<String, Double> byPhase = new LinkedHashMap<>();
    for (Row r : rows) {
      Double t = torch.get(r.part() + "|" + r.phase());
      if (!r.group().equals("ring")) {
        total += r.ms();
        byPhase.merge(r.phase(), r.ms(), Double::sum);
      }
      if (t != null) {
        torchLayers += t;
      }
      s.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %.3f | %s | %s |%n",
              r.part(),
              r.phase(),
              r.ms(),
              t == null ? "-" : String.format(Locale.ROOT, "%.3f", t),
              t == null || t == 0 ? "-" : String.format(Locale.ROOT, "%.2f", r.ms() / t)));
    }
    for (Map.Entry<String, Double> e : torch.entrySet()) {
      if (e.getKey().startsWith("torch:") && !e.getKey().startsWith("torch:whole step")) {
        s.append(
            String.format(
                Locale.ROOT,
                "| PyTorch: %s | | - | %.3f | |%n",
                e.getKey().substring(6),
                e.getValue()));
      }
    }
    Double torchStep = torch.get("torch:whole step (forward, loss, backward, optimiser)");
    s.append(
        String.format(
            Locale.ROOT,
            "| **step without the ring** | | **%.3f** | %s | %s |%n%n",
            total,
            torchStep == null
                ? "-"
                : String.format(Locale.ROOT, "**%.3f** (whole step)", torchStep),
            torchStep == null ? "-" : String.format(Locale.ROOT, "%.2f", total / torchStep)));
    s.append("Spindle by phase (ms per step): ");
    List<String> parts = new ArrayList<>();
    byPhase.forEach((k, v) -> parts.add(String.format(Locale.ROOT, "%s %.3f", k, v)));
    s.append(String.join(", ", parts)).append(".\n\n");
    if (!fast.isEmpty()) {
      Map<String, Double> before = new HashMap<>();
      for (Row r : rows) {
        before.merge(r.part() + "|" + r.phase(), r.ms(), Double::sum);
      }
      Map<String, Double> nchw = new HashMap<>();
      double nchwTotal = 0;
      for (Row r : fast) {
        if (r.group().equals("fast-nchw")) {
          nchw.put(r.part() + "|" + r.phase(), r.ms());
          nchwTotal += r.ms();
        }
      }
      boolean conv = !nchw.isEmpty();
      s.append(
          conv
              ? "The fast convolution path (FastConvNet, NHWC; NCHW beside it) in the same step"
                  + " (ms per step):\n\n"
                  + "| part | phase | fast ms | fast NCHW ms | DL4J path ms | PyTorch ms |\n"
                  + "|---|---|---:|---:|---:|---:|\n"
              : "The fast dense path (FastDenseNet) in the same step (ms per step):\n\n"
                  + "| part | phase | fast ms | DL4J path ms | PyTorch ms |\n"
                  + "|---|---|---:|---:|---:|\n");
      double fastTotal = 0;
      for (Row r : fast) {
        if (!r.group().equals("fast")) {
          continue;
        }
        fastTotal += r.ms();
        String key = r.part() + "|" + r.phase();
        s.append(String.format(Locale.ROOT, "| %s | %s | %.3f |", r.part(), r.phase(), r.ms()));
        if (conv) {
          s.append(' ').append(ms(nchw.get(key))).append(" |");
        }
        s.append(
            String.format(Locale.ROOT, " %s | %s |%n", ms(before.get(key)), ms(torch.get(key))));
      }
      s.append(String.format(Locale.ROOT, "| **step without the ring** | | **%.3f** |", fastTotal));
      if (conv) {
        s.append(String.format(Locale.ROOT, " **%.3f** |", nchwTotal));
      }
      s.append(
          String.format(
              Locale.ROOT,
              " **%.3f** | %s |%n%n",
              total,
              torchStep == null ? "-" : String.format(Locale.ROOT, "**%.3f**", torchStep)));
    }
    if (!primitives.isEmpty()) {
      s.append("Dense layers' single operations, each timed alone (ms per call):\n\n");
      s.append("| layer | operation | phase | ms |\n|---|---|---|---:|\n");
      for (Row r : primitives) {
        String[] lo = r.part().split(" \\| ", 2);
        s.append(
            String.format(
                Locale.ROOT, "| %s | %s | %s | %.3f |%n", lo[0], lo[1], r.phase(), r.ms()));
      }
      s.append('\n');
    }
    if (!onednn.isEmpty()) {
      Map<String, Double> kinds = new HashMap<>();
      s.append("oneDNN primitives (DNNL_VERBOSE, ms per step, one thread):\n\n");
      s.append("| primitive | phase | ms |\n|---|---|---:|\n");
      for (Row r : onednn) {
        s.append(String.format(Locale.ROOT, "| %s | %s | %.3f |%n", r.part(), r.phase(), r.ms()));
        kinds.merge(r.part().substring(0, r.part().indexOf(' ')), r.ms(), Double::sum);
      }
      s.append("\nBy primitive: ");
      List<String> k = new ArrayList<>();
      kinds.forEach((name, ms) -> k.add(String.format(Locale.ROOT, "%s %.3f ms", name, ms)));
      s.append(String.join(", ", k)).append(".\n");
    }
    return s.toString();
  }

  private static String ms(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.3f", v);
  }

  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }
}
