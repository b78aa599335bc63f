package io.spindle.driver;

import io.spindle.config.ClusterConfig;
import io.spindle.config.SyncMode;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A Spark context in {@code local[2]} on 127.0.0.1 for one test class, stopped after it. Register
 * with {@code @RegisterExtension static final SparkLocal SPARK = new SparkLocal();}.
 */
public final class SparkLocal implements BeforeAllCallback, AfterAllCallback {
  private JavaSparkContext sc;

  @Override
  public void beforeAll(ExtensionContext context) {
    sc =
        new JavaSparkContext(
            SparkContexts.conf(
                    new ClusterConfig("local[2]", 2, SyncMode.GRADIENT_SHARING, 1, 1),
                    context.getDisplayName())
                .set("spark.ui.enabled", "false"));
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
