package io.spindle.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.bench.BenchMetrics.EpochPoint;
import io.spindle.config.SpindleConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PyTorch on the same model, data, global batch, initialisation scheme and optimiser, through
 * {@link TorchPeer}: {@code pytorch-1t} (one process, one thread), {@code pytorch} (one process,
 * the faster of 1 and 2 threads over a short probe) and {@code pytorch-ddp}
 * (DistributedDataParallel over gloo, one process per worker, one thread each).
 *
 * <p>Each follows the run's {@code model.precision}: with {@code bf16} it trains under {@code
 * torch.autocast(device_type="cpu", dtype=torch.bfloat16)} around forward and loss (float32
 * parameters, gradients and optimiser), the like-for-like peer of Spindle's bf16 products; else in
 * float32. {@code compute_precision} in bench.json is what the peer's products computed in (the
 * logits' dtype under the context), {@code requested_precision} what the spec asked for.
 */
final class PyTorchBaseline {
  static final String SINGLE_THREAD = "pytorch-1t";
  static final String BEST = "pytorch";
  static final String DDP = "pytorch-ddp";

  private PyTorchBaseline() {}

  static SystemRun run(
      String system,
      SpindleConfig config,
      int numFeatures,
      Map<String, Path> files,
      TorchPeer peer,
      Path dir) {
    Map<String, Object> spec = TorchPeer.spec(config, numFeatures, files);
    String mode = system.equals(DDP) ? DDP : BEST;
    if (system.equals(SINGLE_THREAD)) {
      spec.put("threads", List.of(1));
    }
    JsonNode r = peer.run("train", spec, dir.resolve(system + ".json"), Map.of(), "--system", mode);
    List<EpochPoint> points = new ArrayList<>();
    for (JsonNode p : r.get("points")) {
      points.add(
          new EpochPoint(
              p.get("epoch").asInt(),
              p.get("train_seconds").asDouble(),
              p.get("test_accuracy").asDouble()));
    }
    int workers = r.get("workers").asInt();
    long steps = r.get("steps").asLong();
    double seconds = r.get("seconds").asDouble();
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("torch_version", r.get("torch").asText());
    extra.put("torch_configuration", r.get("configuration").asText());
    extra.put("torch_blas", r.path("blas").asText());
    TorchPeer.BlasCore core = peer.blasCore();
    extra.put("torch_openblas_core", core.used());
    extra.put("torch_openblas_core_reason", core.reason());
    if (!core.probed().isEmpty()) {
      extra.put("torch_openblas_core_probe_flops", core.probed());
    }
    extra.put("requested_precision", r.path("requested_precision").asText("float32"));
    extra.put("compute_precision", r.path("compute_precision").asText("float32"));
    extra.put("master_precision", r.path("master_precision").asText("float32"));
    if (r.hasNonNull("compute_precision_note")) {
      extra.put("compute_precision_note", r.get("compute_precision_note").asText());
    }
    if (r.has("threads_tried")) {
      Map<String, Object> tried = new LinkedHashMap<>();
      r.get("threads_tried")
          .fields()
          .forEachRemaining(e -> tried.put(e.getKey(), e.getValue().asDouble()));
      extra.put("threads_tried_samples_per_second", tried);
    }
    return new SystemRun(
        system,
        workers,
        r.get("threads_per_worker").asInt(),
        r.get("examples").asLong(), // rank 0 counts every global batch whole
        steps,
        seconds,
        points,
        points.get(points.size() - 1).testAccuracy(),
        workers > 1 ? null : 0.0,
        workers > 1
            ? "not counted: gloo's traffic is outside this process (DDP all-reduces the whole"
                + " gradient every step, about the all-reduce bound)"
            : "single process: nothing leaves it",
        r.get("compute_seconds_per_step").asDouble(),
        seconds / Math.max(1, steps),
        "sum of the training epochs' loops on rank 0 (forward, loss, backward, optimiser, batch"
            + " gather); evaluation excluded",
        extra);
  }
}
