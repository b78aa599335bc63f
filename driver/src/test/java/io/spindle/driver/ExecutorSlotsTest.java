package io.spindle.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.scheduler.cluster.ExecutorInfo;
import org.junit.jupiter.api.Test;

/** Slots per executor as Spark counts them for barrier stages: cores, and claimed resources. */
class ExecutorSlotsTest {
  @SuppressWarnings("unchecked")
  static <V> scala.collection.immutable.Map<String, V> scalaMap(Map<String, V> m) {
    scala.collection.immutable.Map<String, V> out = scala.collection.immutable.Map$.MODULE$.empty();
    for (Map.Entry<String, V> e : m.entrySet()) {
      out = out.$plus(new scala.Tuple2<>(e.getKey(), e.getValue()));
    }
    return out;
  }

  static ExecutorInfo executor(int cores, int gpus) {
    String[] addresses = new String[gpus];
    for (int i = 0; i < gpus; i++) {
      addresses[i] = String.valueOf(i);
    }
    return new ExecutorInfo(
        "10.0.0.5",
        cores,
        scalaMap(Map.<String, String>of()),
        scalaMap(Map.<String, String>of()),
        scalaMap(
            gpus == 0
                ? Map.<String, ResourceInformation>of()
                : Map.of("gpu", new ResourceInformation("gpu", addresses))));
  }

  @Test
  void coresOverTaskCpus() {
    assertEquals(4, ExecutorSlots.slotsOf(executor(4, 0), 1, Map.of()));
    assertEquals(2, ExecutorSlots.slotsOf(executor(4, 0), 2, Map.of()));
    assertEquals(1, ExecutorSlots.slotsOf(executor(3, 0), 2, Map.of()));
  }

  @Test
  void claimedResourcesLimitTheSlots() {
    assertEquals(2, ExecutorSlots.slotsOf(executor(4, 2), 1, Map.of("gpu", 1.0)));
    assertEquals(4, ExecutorSlots.slotsOf(executor(4, 2), 1, Map.of("gpu", 0.5)));
    assertEquals(0, ExecutorSlots.slotsOf(executor(4, 0), 1, Map.of("gpu", 1.0)));
    SparkConf conf =
        new SparkConf(false)
            .set("spark.task.resource.gpu.amount", "0.5")
            .set("spark.task.resource.gpu.vendor", "nvidia.com");
    assertEquals(Map.of("gpu", 0.5), ExecutorSlots.taskResources(conf));
  }
}
