package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code cluster.minWorkers} and {@code cluster.shards}: defaults, ranges, round trip. */
class ElasticConfigTest {
  @Test
  void byDefaultARunIsNotElasticWithOneShardPerWorker() {
    ClusterConfig c = ConfigLoader.load(null, List.of("cluster.workers=4")).cluster();
    assertEquals(0, c.minWorkers());
    assertEquals(4, c.workerFloor());
    assertFalse(c.elastic());
    assertEquals(4, c.shardCount());
  }

  @Test
  void minWorkersAndShardsAreReadAndRoundTrip() {
    SpindleConfig c =
        ConfigLoader.load(
            null, List.of("cluster.workers=4", "cluster.minWorkers=2", "cluster.shards=8"));
    assertEquals(2, c.cluster().workerFloor());
    assertTrue(c.cluster().elastic());
    assertEquals(8, c.cluster().shardCount());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "round trip", List.of()));
  }

  @Test
  void outOfRangeValuesAreRefusedNamingTheKey() {
    String above =
        assertThrows(
                ConfigException.class,
                () -> ConfigLoader.load(null, List.of("cluster.workers=3", "cluster.minWorkers=4")))
            .getMessage();
    assertTrue(above.contains("minWorkers must be <= workers (3), got 4"), above);
    String negative =
        assertThrows(
                ConfigException.class,
                () -> ConfigLoader.load(null, List.of("cluster.minWorkers=-1")))
            .getMessage();
    assertTrue(negative.contains("minWorkers must be >= 0, got -1"), negative);
    String fewShards =
        assertThrows(
                ConfigException.class,
                () -> ConfigLoader.load(null, List.of("cluster.workers=4", "cluster.shards=3")))
            .getMessage();
    assertTrue(fewShards.contains("shards must be 0 (= workers) or in [4 (workers)"), fewShards);
  }

  @Test
  void lossyCompressionWithAChangingWorkerCountIsRefusedNamingBothKeys() {
    String m =
        assertThrows(
                ConfigException.class,
                () ->
                    ConfigLoader.load(
                        null,
                        List.of(
                            "cluster.workers=4",
                            "cluster.minWorkers=2",
                            "cluster.compression=powersgd")))
            .getMessage();
    assertTrue(m.contains("cluster.compression powersgd"), m);
    assertTrue(m.contains("cluster.minWorkers 2 < cluster.workers 4"), m);
    // compression with a fixed worker count, and an elastic run without compression, still load
    assertEquals(
        Compression.TOPK,
        ConfigLoader.load(
                null,
                List.of("cluster.workers=4", "cluster.minWorkers=4", "cluster.compression=topk"))
            .cluster()
            .compression());
    assertTrue(
        ConfigLoader.load(null, List.of("cluster.workers=4", "cluster.minWorkers=2"))
            .cluster()
            .elastic());
  }
}
