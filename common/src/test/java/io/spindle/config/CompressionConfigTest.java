package io.spindle.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code cluster.compression}, {@code cluster.powersgdRank}, {@code cluster.topkFraction}:
 * defaults, ranges, the round trip through YAML, and the old key {@code cluster.wire} they
 * replaced.
 */
class CompressionConfigTest {
  static ClusterConfig cluster(String... sets) {
    return ConfigLoader.load(null, List.of(sets)).cluster();
  }

  @Test
  void defaultsToNoneAndRoundTrips() {
    ClusterConfig d = SpindleConfig.defaults().cluster();
    assertEquals(Compression.NONE, d.compression());
    assertEquals(ClusterConfig.DEFAULT_POWERSGD_RANK, d.powersgdRank());
    assertEquals(0.01, d.topkFraction());
    SpindleConfig c =
        ConfigLoader.load(
            null,
            List.of(
                "cluster.compression=powersgd",
                "cluster.powersgdRank=4",
                "cluster.shardOptimizer=false"));
    assertEquals(new CompressionSpec(Compression.POWERSGD, 4, 0.01), c.cluster().compressionSpec());
    assertEquals("powersgd:4", c.cluster().compressionSpec().toString());
    assertEquals(c, ConfigLoader.parse(ConfigLoader.toYaml(c), "round trip", List.of()));
    assertFalse(ConfigLoader.toYaml(c).contains("wire"), "the old key is not written");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "cluster.powersgdRank=0 | powersgdRank must be in [1, 256], got 0",
        "cluster.powersgdRank=257 | powersgdRank must be in [1, 256], got 257",
        "cluster.topkFraction=0 | topkFraction must be in (0, 1], got 0.0",
        "cluster.topkFraction=1.5 | topkFraction must be in (0, 1], got 1.5",
        "cluster.compression=zip | cluster.compression: expected one of",
      })
  void outOfRangeValuesAreRefusedNamingTheKey(String set, String message) {
    String m = assertThrows(ConfigException.class, () -> cluster(set)).getMessage();
    assertTrue(m.contains(message), m);
  }

  @Test
  void compressionNeedsTheCollectiveEngine() {
    String m =
        assertThrows(
                ConfigException.class,
                () -> cluster("cluster.sync=gradient_sharing", "cluster.compression=topk"))
            .getMessage();
    assertTrue(m.contains("compression topk needs sync collective"), m);
  }

  @Test
  void theOldWireKeyStillReadsAndContradictionsAreRefused() {
    assertEquals(Compression.BF16, cluster("cluster.wire=bf16").compression());
    assertEquals(Compression.NONE, cluster("cluster.wire=fp32").compression());
    assertEquals(
        Compression.TOPK, cluster("cluster.wire=fp32", "cluster.compression=topk").compression());
    // a config file (and every checkpoint's config.yaml) written before the change
    ClusterConfig fromFile =
        ConfigLoader.parse(
                "cluster:\n  sync: collective\n  wire: bf16\n  roundSteps: 5\n",
                "old.yaml",
                List.of())
            .cluster();
    assertEquals(Compression.BF16, fromFile.compression());
    assertEquals(5, fromFile.roundSteps());
    String both =
        assertThrows(
                ConfigException.class,
                () ->
                    ConfigLoader.parse(
                        "cluster:\n  wire: bf16\n  compression: powersgd\n",
                        "mixed.yaml",
                        List.of()))
            .getMessage();
    assertTrue(both.startsWith("mixed.yaml line 2: "), both);
    assertTrue(both.contains("cluster.wire bf16 contradicts cluster.compression powersgd"), both);
    String odd =
        assertThrows(ConfigException.class, () -> cluster("cluster.wire=fp16")).getMessage();
    assertTrue(odd.startsWith("--set cluster.wire=fp16: "), odd);
    assertTrue(odd.contains("must be fp32 or bf16, got 'fp16'"), odd);
  }
}
