package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.config.SpindleConfig;
import io.spindle.data.DatasetSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PyTorch peer builds the same model as Spindle: per layer the same number of flat-vector
 * entries (weights, biases, batch norm's scale, shift and running statistics), the same output
 * shape and Spindle's initialisation scale (He: std sqrt(2 / fan-in)). Skipped where no Python
 * interpreter imports torch; the interpreter search itself always runs.
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

  private static long product(JsonNode dims) {
    long n = 1;
    for (JsonNode d : dims) {
      n *= d.asLong();
    }
    return n;
  }
}
