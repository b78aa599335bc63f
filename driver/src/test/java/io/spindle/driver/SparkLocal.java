package io.spindle.driver;

import io.spindle.config.ClusterConfig;
import io.spindle.config.SyncMode;
import io.spindle.driver.cluster.SparkContexts;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A Spark context in local mode (default {@code local[2]}) on 127.0.0.1 for one test class, stopped
 * after it. Register with {@code @RegisterExtension static final SparkLocal SPARK = new
 * SparkLocal();}.
 */
public final class SparkLocal implements BeforeAllCallback, AfterAllCallback {
  private final String master;
  private final java.util.Map<String, String> settings;
  private JavaSparkContext sc;

  public SparkLocal() {
    this("local[2]");
  }

  /**
   * @param master for example {@code local[4,3]}: 4 task slots (barrier stages need one per
   *     worker), and 3 attempts per task so a failed stage is retried
   */
  public SparkLocal(String master) {
    this(master, java.util.Map.of());
  }

  /** With extra Spark settings, for example authentication and encryption. */
  public SparkLocal(String master, java.util.Map<String, String> settings) {
    this.master = master;
    this.settings = java.util.Map.copyOf(settings);
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    org.apache.spark.SparkConf conf =
        SparkContexts.conf(
                ClusterConfig.of(master, 2, SyncMode.GRADIENT_SHARING, 1), context.getDisplayName())
            .set("spark.ui.enabled", "false");
    settings.forEach(
        (k, v) ->
            conf.set(
                k,
                k.equals("spark.kryo.classesToRegister") && conf.contains(k)
                    ? conf.get(k) + "," + v
                    : v));
    sc = new JavaSparkContext(conf);
    sc.setLogLevel("WARN");
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (sc != null) {
      sc.close();
    }
  }

  public JavaSparkContext sc() {
    return sc;
  }
}
