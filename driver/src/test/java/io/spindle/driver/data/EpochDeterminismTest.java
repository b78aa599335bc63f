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

  /**
   * Distributed equals local: every batch is exactly the slice of the seeded permutation that
   * EpochPlan gives its worker and step, computed here from the collected examples, for one and for
   * several groups of steps, with a last step smaller than the number of workers (empty shares).
   */
  @Test
  void batchesAreThePlansSlicesOfTheExamples() {
    int limit = 23 * 64 + 1; // the last step holds one example: worker 0's share of it is empty
    String root = TestDatasets.mirror().resolve("mnist").toUri().toString();
    for (int workers : new int[] {2, 3}) {
      try (DistributedDataset d =
          DatasetLoader.load(
              SPARK.sc(),
              FileFormatsTest.data("dataset=mnist", "trainLimit=" + limit, "inputPartitions=3"),
              root,
              64,
              workers,
              7)) {
        io.spindle.data.Example[] byIndex = new io.spindle.data.Example[limit];
        for (io.spindle.data.Example e : d.trainExamples().collect()) {
          byIndex[e.index()] = e;
        }
        for (int group : new int[] {1, 5, d.stepsPerEpoch()}) {
          io.spindle.data.EpochPlan plan = new io.spindle.data.EpochPlan(limit, 64, workers, 7, 1);
          org.apache.spark.api.java.JavaRDD<MiniBatch> epoch = d.epoch(1, group);
          assertEquals(workers, epoch.getNumPartitions());
          for (int w = 0; w < workers; w++) {
            List<MiniBatch> mine = epoch.collectPartitions(new int[] {w})[0];
            assertEquals(d.stepsPerEpoch(), mine.size());
            for (int step = 0; step < mine.size(); step++) {
              MiniBatch b = mine.get(step);
              int size = plan.stepSize(step);
              int from = plan.sliceStart(size, w);
              int to = plan.sliceStart(size, w + 1);
              assertEquals(step, b.step());
              assertEquals(to - from, b.size(), "share of worker " + w + " in step " + step);
              assertArrayEquals(new int[] {1, 28, 28}, b.shape());
              for (int i = 0; i < b.size(); i++) {
                io.spindle.data.Example e = byIndex[plan.exampleAt(step * 64 + from + i)];
                assertEquals(e.label(), b.labels()[i]);
                assertArrayEquals(
                    e.features(),
                    java.util.Arrays.copyOfRange(b.features(), i * 784, (i + 1) * 784),
                    "example at offset " + i + " of worker " + w + ", step " + step);
              }
            }
            if (w == 0) {
              assertEquals(0, mine.get(mine.size() - 1).size(), "worker 0's last share");
            }
          }
        }
      }
    }
  }
}
