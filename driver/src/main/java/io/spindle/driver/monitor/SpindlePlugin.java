package io.spindle.driver.monitor;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.spindle.worker.TaskDevice;
import java.io.Serializable;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.spark.SparkContext;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;

/**
 * Spindle's Spark plugin (enabled by {@code SparkContexts} through {@code spark.plugins}), on
 * Spark's public plugin API.
 *
 * <ul>
 *   <li>Driver: training gauges in Spark's metrics system under {@code
 *       <app>.driver.plugin.io.spindle.driver.monitor.SpindlePlugin.*} ({@code epoch}, {@code
 *       globalStep}, {@code loss}, {@code trainAccuracy}, {@code testAccuracy}, {@code
 *       samplesPerSecond}), fed by {@link TrainingGauges}; any configured sink (JMX, CSV,
 *       Prometheus servlet, ...) exports them.
 *   <li>Executors: at start, selects the ND4J native build this package holds ({@link
 *       io.spindle.runtime.Nd4jRuntime#selectNativeBuild}); after each task, the GPU address the
 *       task was bound to ({@link TaskDevice}) is sent to the driver, which keeps one {@link
 *       DeviceUse} per task for the run's summary.
 * </ul>
 */
public final class SpindlePlugin implements SparkPlugin {
  private static final List<DeviceUse> DEVICE_USES = new CopyOnWriteArrayList<>();

  /** One task's GPU, as reported by its executor. */
  public record DeviceUse(String executorId, int stageId, int partitionId, String address)
      implements Serializable {}

  /** The GPU uses reported so far in this driver JVM. */
  public static List<DeviceUse> deviceUses() {
    return Collections.unmodifiableList(DEVICE_USES);
  }

  /** Forgets the reports (a new run starts). */
  public static void resetDeviceUses() {
    DEVICE_USES.clear();
  }

  @Override
  public DriverPlugin driverPlugin() {
    return new DriverPlugin() {
      @Override
      public Map<String, String> init(SparkContext sc, PluginContext ctx) {
        register(ctx.metricRegistry());
        return Map.of();
      }

      @Override
      public void registerMetrics(String appId, PluginContext ctx) {}

      @Override
      public Object receive(Object message) {
        if (message instanceof DeviceUse use) {
          DEVICE_USES.add(use);
        }
        return null;
      }
    };
  }

  @Override
  public ExecutorPlugin executorPlugin() {
    return new ExecutorPlugin() {
      private PluginContext ctx;

      @Override
      public void init(PluginContext ctx, Map<String, String> extraConf) {
        this.ctx = ctx;
        // runs when the executor starts, before any task can load ND4J
        io.spindle.runtime.Nd4jRuntime.selectNativeBuild();
        // spark.executorEnv.DNNL_MAX_CPU_ISA=AVX512_CORE_AMX lets oneDNN run AMX kernels, which
        // Linux allows only after the tile permission: request it now (docs/bf16.md)
        if (io.spindle.runtime.Amx.ISA_AMX.equalsIgnoreCase(
            System.getenv(io.spindle.runtime.Amx.ISA_VARIABLE))) {
          io.spindle.runtime.Amx.enable();
        }
      }

      @Override
      public void onTaskSucceeded() {
        report();
      }

      @Override
      public void onTaskFailed(org.apache.spark.TaskFailedReason reason) {
        report();
      }

      private void report() {
        // TaskContext is already unset here; the binding remembers stage and partition.
        TaskDevice.Binding b = TaskDevice.current();
        if (b != null) {
          try {
            ctx.send(new DeviceUse(ctx.executorID(), b.stageId(), b.partitionId(), b.address()));
          } catch (java.io.IOException e) {
            // Reporting is best effort; training does not depend on it.
          }
        }
        TaskDevice.clear();
      }
    };
  }

  private static void register(MetricRegistry registry) {
    registry.register("epoch", (Gauge<Integer>) () -> TrainingGauges.current().epoch());
    registry.register("globalStep", (Gauge<Long>) () -> TrainingGauges.current().globalStep());
    registry.register("loss", (Gauge<Double>) () -> TrainingGauges.current().loss());
    registry.register(
        "trainAccuracy", (Gauge<Double>) () -> TrainingGauges.current().trainAccuracy());
    registry.register(
        "testAccuracy", (Gauge<Double>) () -> TrainingGauges.current().testAccuracy());
    registry.register(
        "samplesPerSecond", (Gauge<Double>) () -> TrainingGauges.current().samplesPerSecond());
  }
}
