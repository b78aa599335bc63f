package io.spindle.driver.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.spindle.config.ClusterConfig;
import io.spindle.config.Compression;
import io.spindle.config.SyncMode;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An elastic run without barrier stages schedules its tasks with no locality wait, so an executor
 * added later (holding no cached shard) is given work at once; other runs keep Spark's default, and
 * a user's own setting wins.
 */
class ElasticSparkConfTest {
  static ClusterConfig cluster(SyncMode sync, int workers, int minWorkers) {
    return new ClusterConfig(
            "spark://127.0.0.1:7077",
            workers,
            sync,
            4,
            0,
            0,
            Compression.NONE,
            ClusterConfig.DEFAULT_POWERSGD_RANK,
            ClusterConfig.DEFAULT_TOPK_FRACTION,
            true,
            120,
            60,
            0,
            0)
        .withWorkers(workers, minWorkers);
  }

  @AfterEach
  void clear() {
    System.clearProperty("spark.locality.wait");
  }

  @Test
  void elasticTaskRunsHaveNoLocalityWait() {
    for (SyncMode sync : new SyncMode[] {SyncMode.PARAMETER_AVERAGING, SyncMode.GRADIENT_SHARING}) {
      SparkConf conf = SparkContexts.conf(cluster(sync, 3, 2), "t");
      assertEquals("0s", conf.get("spark.locality.wait", "unset"), sync.toString());
    }
  }

  @Test
  void fixedAndBarrierRunsKeepSparksDefault() {
    assertFalse(
        SparkContexts.conf(cluster(SyncMode.PARAMETER_AVERAGING, 3, 0), "t")
            .contains("spark.locality.wait"));
    assertFalse(
        SparkContexts.conf(cluster(SyncMode.COLLECTIVE, 3, 2), "t")
            .contains("spark.locality.wait"));
  }

  @Test
  void theUsersSettingWins() {
    System.setProperty("spark.locality.wait", "1s");
    SparkConf conf = SparkContexts.conf(cluster(SyncMode.PARAMETER_AVERAGING, 3, 2), "t");
    assertEquals("1s", conf.get("spark.locality.wait"));
  }
}
