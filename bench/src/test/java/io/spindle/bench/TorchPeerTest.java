package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetSpec;
import io.spindle.testing.TestDatasets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PyTorch peer builds the same model as Spindle: per layer the same number of flat-vector
 * entries (weights, biases, batch norm's scale, shift and running statistics), the same output
 * shape and Spindle's initialisation scale (He: std sqrt(2 / fan-in)); with {@code model.precision:
 * bf16} it trains under CPU autocast to bfloat16. The tests that run PyTorch are skipped, with the
 * interpreter search's reason, where no Python interpreter imports torch; the interpreter search
 * and the spec always run.
 */
class TorchPeerTest {
  @TempDir Path tmp;

  @Test
  void anUnavailableInterpreterSaysHowToInstallTorch() {
    TorchPeer.Interpreter p = TorchPeer.find();
    if (!p.available()) {
      assertTrue(p.unavailable().contains("apt-get install python3-torch"), p.unavailable());
    } else {
      assertFalse(p.torchVersion().isBlank());
    }
  }

  @Test
  void peerModelHasSpindlesLayersShapesAndInitialisation() {
    TorchPeer.Interpreter python = TorchPeer.find();
    assumeTrue(python.available(), python.unavailable());
    TorchPeer peer = TorchPeer.in(python, tmp);
    Map<String, Path> files =
        Map.of(
            DatasetSpec.TRAIN_IMAGES, Path.of("unused"),
            DatasetSpec.TRAIN_LABELS, Path.of("unused"),
            DatasetSpec.TEST_IMAGES, Path.of("unused"),
            DatasetSpec.TEST_LABELS, Path.of("unused"));
    for (String model : new String[] {BenchModels.MLP, BenchModels.CNN}) {
      SpindleConfig config = BenchModels.config(model, null, List.of());
      JsonNode units =
          peer.run(
                  "describe",
                  TorchPeer.spec(config, 784, files),
                  tmp.resolve(model + ".json"),
                  Map.of())
              .get("units");
      List<LayerShapes.Shape> shapes = LayerShapes.of(config.model(), 784);
      assertEquals(shapes.size(), units.size(), model);
      for (int i = 0; i < shapes.size(); i++) {
        JsonNode u = units.get(i);
        LayerShapes.Shape s = shapes.get(i);
        assertEquals(s.parameters(), u.get("entries").asLong(), model + " layer " + i);
        assertEquals(s.outSize(), product(u.get("out_shape")), model + " layer " + i);
        if (!u.get("weight_std").isNull()) {
          double expected = Math.sqrt(2.0 / u.get("fan_in").asDouble());
          assertEquals(expected, u.get("weight_std").asDouble(), 0.15 * expected, model + " " + i);
        }
      }
    }
  }

  @Test
  void openBlasGenericKernelsAreReplacedOnlyByAFasterKernelSet() {
    Map<String, Double> probed = new java.util.LinkedHashMap<>();
    probed.put("default", 32e9);
    probed.put("SapphireRapids", 140e9);
    probed.put("SkylakeX", 147e9);
    probed.put("Haswell", 0.0); // failed to run
    TorchPeer.BlasCore fast = TorchPeer.decide(TorchPeer.GENERIC_CORE, probed);
    assertEquals("SkylakeX", fast.used());
    assertEquals(Map.of("OPENBLAS_CORETYPE", "SkylakeX"), fast.env());
    assertTrue(fast.reason().contains("147.0 GFLOP/s against 32.0"), fast.reason());

    Map<String, Double> close = Map.of("default", 100e9, "SkylakeX", 109e9);
    TorchPeer.BlasCore kept = TorchPeer.decide(TorchPeer.GENERIC_CORE, close);
    assertEquals(TorchPeer.GENERIC_CORE, kept.used());
    assertEquals(Map.of(), kept.env());

    TorchPeer.BlasCore own = TorchPeer.decide("SkylakeX", Map.of("default", 100e9));
    assertEquals("SkylakeX", own.used());
    assertEquals(Map.of(), own.env());
  }

  /** Every run of the peer uses the kernel set it chose (what OpenBLAS reports inside the run). */
  @Test
  void thePeersRunsUseTheChosenOpenBlasKernels() {
    TorchPeer.Interpreter python = TorchPeer.find();
    assumeTrue(python.available(), python.unavailable());
    TorchPeer peer = TorchPeer.in(python, tmp);
    TorchPeer.BlasCore core = peer.blasCore();
    assumeTrue(core.detected() != null, core.reason());
    JsonNode r =
        peer.run(
            "peak",
            Map.of(),
            tmp.resolve("peak.json"),
            TorchPeer.threadsEnv(1),
            "--size",
            "64",
            "--threads",
            "1");
    String reported = r.get("blas_core").asText();
    if (core.used().equals(core.detected())) {
      assertEquals(core.detected(), reported);
    } else {
      // OpenBLAS reports the kernel set it maps the name to (SapphireRapids -> Cooperlake in
      // 0.3.21)
      assertFalse(
          reported.equals(TorchPeer.GENERIC_CORE), core + " but the run reported " + reported);
    }
  }

  @Test
  void specAsksForBf16OnlyWhenTheModelComputesInBf16() {
    Map<String, Path> files = unusedFiles();
    for (String[] c :
        new String[][] {{"bf16", "bf16"}, {"float32", "float32"}, {"float64", "float32"}}) {
      SpindleConfig config =
          BenchModels.config(BenchModels.MLP, null, List.of("model.precision=" + c[0]));
      assertEquals(c[1], TorchPeer.spec(config, 784, files).get("precision"), c[0]);
    }
  }

  /**
   * A tiny run of each PyTorch system in bf16 and of one in float32 (2,048 MNIST examples, one
   * epoch): the bf16 runs compute in bf16 (the logits' dtype under autocast) with float32 master
   * weights and learn; the float32 run computes in float32. No time is asserted.
   */
  @Test
  void bf16RunsTrainUnderAutocastWithFloat32MasterWeights() throws IOException {
    TorchPeer.Interpreter python = TorchPeer.find();
    assumeTrue(python.available(), python.unavailable());
    TorchPeer peer = TorchPeer.in(python, tmp);
    Path mnist = TestDatasets.mirror().resolve("mnist");
    Map<String, Path> files =
        Map.of(
            DatasetSpec.TRAIN_IMAGES, mnist.resolve(DatasetSpec.TRAIN_IMAGES),
            DatasetSpec.TRAIN_LABELS, mnist.resolve(DatasetSpec.TRAIN_LABELS),
            DatasetSpec.TEST_IMAGES, mnist.resolve(DatasetSpec.TEST_IMAGES),
            DatasetSpec.TEST_LABELS, mnist.resolve(DatasetSpec.TEST_LABELS));
    for (String[] c :
        new String[][] {
          {PyTorchBaseline.SINGLE_THREAD, "bf16"},
          {PyTorchBaseline.DDP, "bf16"},
          {PyTorchBaseline.SINGLE_THREAD, "float32"}
        }) {
      SpindleConfig config =
          BenchModels.config(
              BenchModels.MLP,
              null,
              List.of(
                  "model.precision=" + c[1],
                  "data.trainLimit=2048",
                  "model.layers[0].units=32",
                  "model.layers[1].units=32",
                  "optimizer.learningRate=0.005",
                  "training.batchSize=128",
                  "training.epochs=1",
                  "cluster.workers=2"));
      Path dir = Files.createDirectories(tmp.resolve(c[0] + "-" + c[1]));
      SystemRun r = PyTorchBaseline.run(c[0], config, 784, files, peer, dir);
      String what = c[0] + " " + c[1] + ": " + r.extra();
      assertEquals(c[1], r.extra().get("requested_precision"), what);
      assertEquals(c[1], r.extra().get("compute_precision"), what);
      assertEquals("float32", r.extra().get("master_precision"), what);
      assertEquals(2048, r.examples(), what);
      assertTrue(r.testAccuracy() > 0.2, what + " test accuracy " + r.testAccuracy());
      assertEquals(
          c[1].equals("bf16"),
          r.extra().get("torch_configuration").toString().contains("torch.autocast"),
          what);
    }
  }

  private static Map<String, Path> unusedFiles() {
    return Map.of(
        DatasetSpec.TRAIN_IMAGES, Path.of("unused"),
        DatasetSpec.TRAIN_LABELS, Path.of("unused"),
        DatasetSpec.TEST_IMAGES, Path.of("unused"),
        DatasetSpec.TEST_LABELS, Path.of("unused"));
  }

  private static long product(JsonNode dims) {
    long n = 1;
    for (JsonNode d : dims) {
      n *= d.asLong();
    }
    return n;
  }
}
