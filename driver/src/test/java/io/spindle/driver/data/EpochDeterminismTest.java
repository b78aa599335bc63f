package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.spindle.data.MiniBatch;
import io.spindle.driver.SparkLocal;
import io.spindle.testing.TestDatasets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A run is reproducible from its seed: the same seed gives the same batch sequence whether the
 * files are read in 2 or 3 input partitions, and every epoch reshuffles.
 */
class EpochDeterminismTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal();

  static DistributedDataset mnist(int inputPartitions, long seed) {
    String root = TestDatasets.mirror().resolve("mnist").toUri().toString();
    return DatasetLoader.load(
        SPARK.sc(),
        FileFormatsTest.data(
            "dataset=mnist", "trainLimit=1500", "inputPartitions=" + inputPartitions),
        root,
        64,
        2,
        seed);
  }

  static void assertSameBatches(List<MiniBatch> a, List<MiniBatch> b) {
    assertEquals(a.size(), b.size());
    for (int i = 0; i < a.size(); i++) {
      assertEquals(a.get(i).step(), b.get(i).step());
      assertArrayEquals(a.get(i).labels(), b.get(i).labels(), "labels of batch " + i);
      assertArrayEquals(a.get(i).features(), b.get(i).features(), "features of batch " + i);
    }
  }

  @Test
  void sameSeedSameBatchesWithTwoAndThreeInputPartitions() {
    try (DistributedDataset two = mnist(2, 42);
        DistributedDataset three = mnist(3, 42);
        DistributedDataset twoAgain = mnist(2, 42)) {
      assertEquals(1500, two.numTrain());
      assertEquals(10000, two.numTest());
      for (int epoch = 0; epoch < 2; epoch++) {
        List<MiniBatch> a = two.epoch(epoch).collect();
        assertEquals(2 * two.stepsPerEpoch(), a.size());
        assertSameBatches(a, three.epoch(epoch).collect());
        assertSameBatches(a, twoAgain.epoch(epoch).collect());
      }
      int[] firstEpoch = two.epoch(0).collect().get(0).labels();
      int[] secondEpoch = two.epoch(1).collect().get(0).labels();
      assertFalse(java.util.Arrays.equals(firstEpoch, secondEpoch), "epochs must reshuffle");
    }
  }

  @Test
  void anotherSeedGivesAnotherOrder() {
    try (DistributedDataset a = mnist(2, 1);
        DistributedDataset b = mnist(2, 2)) {
      assertFalse(
          java.util.Arrays.equals(
              a.epoch(0).collect().get(0).labels(), b.epoch(0).collect().get(0).labels()));
    }
  }
}
