package io.spindle.config;

import static io.spindle.config.ConfigLoaderTest.assertContains;
import static io.spindle.config.ConfigLoaderTest.error;
import static io.spindle.config.ConfigLoaderTest.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The data pipeline's config keys: defaults, binding and validation with key and line. */
class DataConfigTest {
  @Test
  void newKeysHaveDefaultsAndBind() {
    DataConfig d = parse("").data();
    assertEquals("idx", d.effectiveFormat());
    assertEquals(0, d.inputPartitions());
    assertEquals(2, d.prefetchBatches());
    assertEquals(List.of(0.0, 0.0, 0.0), d.mean());
    DataConfig c =
        parse(
                """
            data:
              format: image_folder
              dataset: imagenet
              path: hdfs://nn:8020/imagenet
              imageSize: 224
              imageResize: 256
              crop: random
              flip: true
              mean: [0.485, 0.456, 0.406]
              std: [0.229, 0.224, 0.225]
              hadoop: ["fs.s3a.endpoint=http://127.0.0.1:9000"]
            """)
            .data();
    assertEquals("image_folder", c.effectiveFormat());
    assertEquals(List.of(0.229, 0.224, 0.225), c.std());
    assertEquals(List.of("fs.s3a.endpoint=http://127.0.0.1:9000"), c.hadoop());
    assertEquals("cifar100", parse("", "data.dataset=cifar100").data().effectiveFormat());
  }

  @Test
  void badValuesNameKeyLineExpectedAndFound() {
    assertContains(
        error("data:\n  format: hdf5\n"),
        "line 2",
        "format must be one of [cifar10, cifar100, idx, image_folder, table], got 'hdf5'");
    assertContains(
        error("data:\n  format: image_folder\n  path: /x\n  std: [1, 0, 1]\n"),
        "line 4",
        "std values must be finite and > 0");
    assertContains(
        error("data:\n  format: image_folder\n  path: /x\n  mean: [0.5]\n"),
        "mean must list 3 values (R, G, B), got 1");
    assertContains(error("data:\n  format: table\n  path: /t\n"), "testPath must be set");
    assertContains(error("", "data.task=regression"), "task regression needs format table");
    assertContains(error("", "data.hadoop=[novalue]"), "hadoop entries must be key=value");
    assertContains(error("", "data.inputPartitions=-1"), "inputPartitions must be >= 0, got -1");
    assertContains(
        error("", "data.imageSize=300"), "imageResize must be >= imageSize (300), got 256");
  }
}
