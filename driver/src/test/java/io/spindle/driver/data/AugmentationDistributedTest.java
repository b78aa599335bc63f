package io.spindle.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.data.CifarFormat;
import io.spindle.data.CifarGenerator;
import io.spindle.data.EpochPlan;
import io.spindle.data.ImageAugmentation;
import io.spindle.data.MiniBatch;
import io.spindle.driver.SparkLocal;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Augmentation through the real pipeline (generated CIFAR-10 files read on the executors, the epoch
 * shuffle, the worker's prefetch thread): every augmented example equals the transform computed
 * here locally from its raw record and the draw of (seed, epoch, example), pixel for pixel, for 2
 * and 3 workers and input partitions and on a second run; epochs draw anew; the test set is only
 * normalised.
 */
class AugmentationDistributedTest {
  @RegisterExtension static final SparkLocal SPARK = new SparkLocal("local[3]");
  private static final int PER_FILE = 60;
  private static final long DATA_SEED = 5;
  private static final String[] AUGMENT = {
    "augment.crop=padded",
    "augment.padding=4",
    "augment.flip=true",
    "augment.mean=[0.49, 0.48, 0.45]",
    "augment.std=[0.25, 0.24, 0.26]"
  };

  @TempDir static Path tmp;
  static Path dir;

  @BeforeAll
  static void generate() throws Exception {
    dir = CifarGenerator.write(tmp.resolve("cifar-10-batches-bin"), PER_FILE, DATA_SEED);
  }

  static DistributedDataset load(int inputPartitions, int workers) {
    String[] sets = new String[AUGMENT.length + 3];
    sets[0] = "dataset=cifar10";
    sets[1] = "path=" + dir.toUri();
    sets[2] = "inputPartitions=" + inputPartitions;
    System.arraycopy(AUGMENT, 0, sets, 3, AUGMENT.length);
    return DatasetLoader.load(
        SPARK.sc(), FileFormatsTest.data(sets), dir.toUri().toString(), 32, workers, 42);
  }

  /** Example index to its augmented features in {@code epoch}, from the collected batches. */
  static Map<Integer, float[]> byExample(DistributedDataset d, int epoch) {
    List<MiniBatch> batches = d.epoch(epoch).collect();
    int steps = d.stepsPerEpoch();
    assertEquals(d.workers() * steps, batches.size());
    EpochPlan plan = new EpochPlan(d.numTrain(), d.batchSize(), d.workers(), 42, epoch);
    Map<Integer, float[]> out = new HashMap<>();
    for (int j = 0; j < batches.size(); j++) {
      MiniBatch b = batches.get(j);
      int worker = j / steps;
      assertEquals(j % steps, b.step());
      assertArrayEquals(new int[] {3, 32, 32}, b.shape());
      float[] x = b.features();
      for (int r = 0; r < b.size(); r++) {
        int example = plan.exampleAt(b.step(), worker, r);
        float[] row = java.util.Arrays.copyOfRange(x, r * 3072, (r + 1) * 3072);
        assertEquals(null, out.put(example, row), "example " + example + " delivered twice");
        assertEquals(label(example), b.labels()[r]);
      }
    }
    assertEquals(d.numTrain(), out.size());
    return out;
  }

  static int label(int example) {
    return CifarGenerator.label(DATA_SEED, example / PER_FILE + 1, example % PER_FILE);
  }

  /** What the transform gives for example {@code i} in {@code epoch}, computed locally. */
  static float[] expected(ImageAugmentation aug, int i, int epoch) {
    byte[] rec = CifarGenerator.record(DATA_SEED, i / PER_FILE + 1, i % PER_FILE);
    byte[] px = java.util.Arrays.copyOfRange(rec, 1, 1 + CifarFormat.PIXELS);
    MiniBatch one = MiniBatch.ofPixels(0, 1, 3072, px, new int[] {rec[0]}, new int[] {3, 32, 32});
    return aug.train(one, epoch, row -> i).features();
  }

  @Test
  void everyExampleGetsTheDrawOfItsIndexForAnyPartitioning() {
    try (DistributedDataset two = load(2, 2);
        DistributedDataset three = load(3, 3);
        DistributedDataset again = load(2, 2)) {
      assertEquals(5 * PER_FILE, two.numTrain());
      assertEquals(3072, two.numFeatures());
      ImageAugmentation aug = two.augmentation();
      int differ = 0;
      Map<Integer, float[]> previous = null;
      for (int epoch = 0; epoch < 2; epoch++) {
        Map<Integer, float[]> a = byExample(two, epoch);
        Map<Integer, float[]> b = byExample(three, epoch);
        Map<Integer, float[]> c = byExample(again, epoch);
        for (int i = 0; i < two.numTrain(); i++) {
          float[] local = expected(aug, i, epoch);
          assertArrayEquals(local, a.get(i), "example " + i + ", epoch " + epoch);
          assertArrayEquals(local, b.get(i), "3 workers, 3 input partitions: example " + i);
          assertArrayEquals(local, c.get(i), "second run: example " + i);
          if (previous != null && !java.util.Arrays.equals(previous.get(i), a.get(i))) {
            differ++;
          }
        }
        previous = a;
      }
      assertTrue(differ > 0.9 * two.numTrain(), differ + " examples changed between epochs");
    }
  }

  /**
   * The augmentation runs behind the worker's prefetch iterator, and a consumer that will skip
   * steps can say so: the skipped batches come back untransformed (phase 2's skip-ahead uses it).
   */
  @Test
  void augmentationRunsBehindThePrefetchIteratorAndSkipsWhatTheConsumerSkips() {
    try (DistributedDataset d = load(2, 2)) {
      int last = d.stepsPerEpoch() - 1;
      List<String> seen =
          d.epoch(0)
              .mapPartitions(
                  it -> {
                    String kind = it.getClass().getSimpleName();
                    ((io.spindle.worker.SkipsAhead) it).skipTo(last);
                    StringBuilder encoded = new StringBuilder();
                    while (it.hasNext()) {
                      encoded.append(it.next().isEncoded() ? 'e' : 'f');
                    }
                    return List.of(kind + " " + encoded).iterator();
                  })
              .collect();
      // before the hint the prefetch thread may have augmented the batches its queue holds
      // (prefetchBatches, 2) and one more, which it holds while it waits for room in the queue
      for (String s : seen) {
        assertTrue(s.startsWith("PrefetchIterator "), s);
        String flags = s.substring(s.indexOf(' ') + 1);
        assertEquals(d.stepsPerEpoch(), flags.length(), s);
        assertTrue(flags.endsWith("f"), "the step wanted is augmented: " + s);
        assertTrue(flags.substring(3, last).chars().allMatch(c -> c == 'e'), s);
      }
    }
  }

  @Test
  void theTestSetIsOnlyNormalised() {
    try (DistributedDataset d = load(2, 2)) {
      List<MiniBatch> test = d.test().collect();
      int i = 0;
      float[] mean = {0.49f, 0.48f, 0.45f};
      float[] std = {0.25f, 0.24f, 0.26f};
      for (MiniBatch b : test) {
        float[] x = b.features();
        for (int r = 0; r < b.size(); r++, i++) {
          byte[] rec = CifarGenerator.record(DATA_SEED, 6, i);
          assertEquals(rec[0], b.labels()[r]);
          for (int k = 0; k < 3072; k++) {
            int c = k / 1024;
            float v = ((rec[1 + k] & 0xFF) / 255f - mean[c]) / std[c];
            assertEquals(v, x[r * 3072 + k], 0f, "test example " + i + " value " + k);
          }
        }
      }
      assertEquals(PER_FILE, i);
      List<MiniBatch> twice = d.test().collect();
      assertArrayEquals(test.get(0).features(), twice.get(0).features());
    }
  }
}
