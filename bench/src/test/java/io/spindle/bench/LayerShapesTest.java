package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.spindle.config.ConfigException;
import io.spindle.config.ConfigLoader;
import io.spindle.config.ScheduleConfig;
import io.spindle.config.SpindleConfig;
import io.spindle.model.ModelFactory;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;

/** Shapes, multiply-adds and parameter counts of the bench's models against DL4J's own network. */
class LayerShapesTest {
  @Test
  void cnnExampleShapesAndMultiplyAdds() {
    SpindleConfig cnn = BenchModels.config(BenchModels.CNN, null, List.of());
    List<LayerShapes.Shape> s = LayerShapes.of(cnn.model(), 784);
    assertEquals(8, s.size());
    assertArrayEquals(new int[] {1, 28, 28}, s.get(0).in());
    assertArrayEquals(new int[] {32, 28, 28}, s.get(0).out());
    assertArrayEquals(new int[] {32, 14, 14}, s.get(2).out());
    assertArrayEquals(new int[] {64, 14, 14}, s.get(3).out());
    assertArrayEquals(new int[] {64, 7, 7}, s.get(5).out());
    assertArrayEquals(new int[] {128}, s.get(6).out());
    long conv1 = 28L * 28 * 32 * 9;
    long conv2 = 14L * 14 * 64 * 9 * 32;
    long dense = 64L * 7 * 7 * 128;
    long out = 128L * 10;
    assertEquals(conv1 + conv2 + dense + out, LayerShapes.multiplyAdds(cnn.model(), 784));
    assertEquals(
        6.0 * (conv1 + conv2 + dense + out), BenchMetrics.flopsPerExample(784, cnn.model()));
  }

  @Test
  void parameterCountsMatchDl4jsFlatVector() {
    for (String model : new String[] {BenchModels.MLP, BenchModels.CNN}) {
      SpindleConfig c = BenchModels.config(model, null, List.of());
      MultiLayerNetwork net = ModelFactory.create(c.model(), 784, 1);
      long counted =
          LayerShapes.of(c.model(), 784).stream().mapToLong(LayerShapes.Shape::parameters).sum();
      assertEquals(net.numParams(), counted, model);
      assertEquals(4.0 * net.numParams(), BenchReport.modelBytes(c, 784), model);
    }
  }

  @Test
  void cnnModelRunsAtAConstantRateAndRefusesAConfigFile() {
    SpindleConfig cnn = BenchModels.config(BenchModels.CNN, null, List.of("training.epochs=1"));
    assertEquals(ScheduleConfig.constant(), cnn.optimizer().schedule());
    assertEquals(128, cnn.training().batchSize());
    assertEquals(1, cnn.training().epochs());
    assertThrows(
        ConfigException.class,
        () -> BenchModels.config(BenchModels.CNN, Path.of("x.yaml"), List.of()));
    assertThrows(ConfigException.class, () -> BenchModels.check("resnet"));
    assertEquals(
        ConfigLoader.parse("", "defaults", List.of()),
        BenchModels.config(BenchModels.MLP, null, List.of()));
  }
}
