package io.spindle.driver.cluster;

import io.spindle.config.ConfigException;
import io.spindle.config.LayerConfig;
import io.spindle.config.OptimizerType;
import io.spindle.config.Precision;
import io.spindle.config.SpindleConfig;
import io.spindle.config.SyncMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.network.util.JavaUtils;

/**
 * What a run needs from each executor, derived from the model size and the batch, checked against
 * the Spark settings before anything starts, so that a configuration that cannot work is refused up
 * front (exit 2) with the setting to change instead of failing an hour later.
 *
 * <p>ND4J keeps arrays off the JVM heap, limited by JavaCPP's {@code org.bytedeco.javacpp.maxbytes}
 * (arrays) and {@code maxphysicalbytes} (the whole process: heap plus off-heap). Per worker it
 * holds: the network's parameters, its gradient and the copies exchanged with the driver (4 model
 * sizes), the optimiser state where the worker runs optimiser steps (parameter averaging,
 * collective), and the activations, deltas and dropout masks of its share of the batch (3 x batch x
 * sum of layer widths). The estimate is doubled for ND4J's workspaces and allocator slack, plus a
 * fixed 64 MiB. On YARN and Kubernetes (which kill containers that exceed their memory) the
 * container must also hold the off-heap memory, so {@code spark.executor.memoryOverhead} must cover
 * {@code maxbytes} plus ND4J's native libraries (~400 MiB mapped).
 */
public record ResourcePlan(
    long parameters,
    long offHeapNeedBytes,
    long workerBatch,
    int threadsPerWorker,
    int taskCpus,
    int executorCores,
    long maxBytes,
    long maxPhysicalBytes,
    long executorMemoryBytes,
    long memoryOverheadBytes,
    boolean local,
    boolean containers) {
  static final long MIB = 1L << 20;
  static final long NATIVE_LIBRARIES_BYTES = 400 * MIB;
  private static final int IMAGE_FEATURES = 28 * 28;

  /** The plan of {@code config} under {@code conf} (the effective Spark settings). */
  public static ResourcePlan of(SpindleConfig config, SparkConf conf) {
    boolean local = SparkContexts.isLocal(conf);
    String master = conf.get("spark.master", "");
    long bytesPerValue = config.model().precision() == Precision.FLOAT64 ? 8 : 4;
    long params = 0;
    long widths = IMAGE_FEATURES;
    long in = IMAGE_FEATURES;
    for (LayerConfig layer : config.model().layers()) {
      params += in * layer.units() + layer.units();
      widths += layer.units();
      in = layer.units();
    }
    int workers = config.cluster().workers();
    long globalBatch = config.training().batchSize();
    if (config.training().fullBatch()) { // the whole training set; MNIST's size when unknown
      globalBatch = config.data().trainLimit() > 0 ? config.data().trainLimit() : 60_000;
    }
    long workerBatch = (globalBatch + workers - 1) / workers;
    boolean workerOptimizer = config.cluster().sync() != SyncMode.GRADIENT_SHARING;
    long stateSlots = workerOptimizer ? optimizerSlots(config.optimizer().type()) : 0;
    long need =
        2 * ((4 + stateSlots) * params * bytesPerValue + 3 * workerBatch * widths * bytesPerValue)
            + 64 * MIB;
    String javaOptions =
        local
            ? ""
            : conf.get("spark.executor.extraJavaOptions", "")
                + " "
                + conf.get("spark.executor.defaultJavaOptions", "");
    long maxBytes = javacppLimit(javaOptions, "maxbytes", local);
    long maxPhysical = javacppLimit(javaOptions, "maxphysicalbytes", local);
    long executorMemory =
        local
            ? Runtime.getRuntime().maxMemory()
            : conf.getSizeAsBytes("spark.executor.memory", "1g");
    long overhead =
        conf.contains("spark.executor.memoryOverhead")
            ? conf.getSizeAsMb("spark.executor.memoryOverhead", "384") * MIB
            : Math.max(384 * MIB, executorMemory / 10);
    int taskCpus = conf.getInt("spark.task.cpus", 1);
    int executorCores = local ? taskCpus : conf.getInt("spark.executor.cores", taskCpus);
    int threads =
        config.cluster().threadsPerWorker() > 0
            ? config.cluster().threadsPerWorker()
            : local ? 1 : taskCpus;
    return new ResourcePlan(
        params,
        need,
        workerBatch,
        threads,
        taskCpus,
        executorCores,
        maxBytes,
        maxPhysical,
        executorMemory,
        overhead,
        local,
        master.startsWith("yarn") || master.startsWith("k8s://"));
  }

  private static long optimizerSlots(OptimizerType type) {
    return switch (type) {
      case SGD -> 0;
      case MOMENTUM, NESTEROV, ADAGRAD, RMSPROP -> 1;
      case ADAM -> 2;
    };
  }

  /**
   * A JavaCPP limit from {@code -Dorg.bytedeco.javacpp.<name>=<size>} in the executors' Java
   * options, or in local mode from this JVM's system property; 0 when not set (no limit checked).
   */
  static long javacppLimit(String javaOptions, String name, boolean local) {
    String value = null;
    if (local) {
      value = System.getProperty("org.bytedeco.javacpp." + name);
    } else {
      Matcher m =
          Pattern.compile("-Dorg\\.bytedeco\\.javacpp\\." + name + "=(\\S+)").matcher(javaOptions);
      while (m.find()) {
        value = m.group(1);
      }
    }
    if (value == null || value.isBlank()) {
      return 0;
    }
    try {
      return JavaUtils.byteStringAsBytes(value.trim().toLowerCase(Locale.ROOT));
    } catch (NumberFormatException e) {
      throw new ConfigException(
          "org.bytedeco.javacpp."
              + name
              + " must be a size such as 4G or 4096m, got '"
              + value
              + "'");
    }
  }

  /** Every reason this plan cannot work, each naming the setting to change; empty if it can. */
  public List<String> problems() {
    List<String> problems = new ArrayList<>();
    String where =
        local ? "the driver JVM (-D... or SPINDLE_OFFHEAP)" : "spark.executor.extraJavaOptions";
    if (maxBytes > 0 && maxBytes < offHeapNeedBytes) {
      problems.add(
          String.format(
              Locale.ROOT,
              "org.bytedeco.javacpp.maxbytes is %s but each worker needs about %s off-heap for"
                  + " %,d parameters at %d examples per worker; raise"
                  + " -Dorg.bytedeco.javacpp.maxbytes in %s to at least %s (or lower"
                  + " training.batchSize)",
              mib(maxBytes),
              mib(offHeapNeedBytes),
              parameters,
              workerBatch,
              where,
              mib(offHeapNeedBytes)));
    }
    long physicalNeed = executorMemoryBytes + Math.max(maxBytes, offHeapNeedBytes);
    if (maxPhysicalBytes > 0 && maxPhysicalBytes < physicalNeed) {
      problems.add(
          String.format(
              Locale.ROOT,
              "org.bytedeco.javacpp.maxphysicalbytes is %s but the process needs heap (%s) plus"
                  + " off-heap (%s); raise -Dorg.bytedeco.javacpp.maxphysicalbytes in %s to at"
                  + " least %s",
              mib(maxPhysicalBytes),
              mib(executorMemoryBytes),
              mib(Math.max(maxBytes, offHeapNeedBytes)),
              where,
              mib(physicalNeed)));
    }
    if (containers) {
      long overheadNeed = Math.max(maxBytes, offHeapNeedBytes) + NATIVE_LIBRARIES_BYTES;
      if (memoryOverheadBytes < overheadNeed) {
        problems.add(
            String.format(
                Locale.ROOT,
                "spark.executor.memoryOverhead is %s but ND4J's off-heap arrays (%s) and native"
                    + " libraries (%s) live there; set spark.executor.memoryOverhead to at least"
                    + " %s",
                mib(memoryOverheadBytes),
                mib(Math.max(maxBytes, offHeapNeedBytes)),
                mib(NATIVE_LIBRARIES_BYTES),
                mib(overheadNeed)));
      }
    }
    if (!local) {
      if (threadsPerWorker > taskCpus) {
        problems.add(
            String.format(
                Locale.ROOT,
                "cluster.threadsPerWorker is %d but each task claims spark.task.cpus=%d core(s);"
                    + " set spark.task.cpus to %d (or cluster.threadsPerWorker to %d)",
                threadsPerWorker,
                taskCpus,
                threadsPerWorker,
                taskCpus));
      }
      if (executorCores > taskCpus) {
        problems.add(
            String.format(
                Locale.ROOT,
                "spark.executor.cores=%d with spark.task.cpus=%d runs %d training tasks per"
                    + " executor, competing for its cores; set spark.task.cpus=%d so one task"
                    + " uses them all",
                executorCores,
                taskCpus,
                executorCores / taskCpus,
                executorCores));
      }
    }
    return problems;
  }

  /** Refuses the plan (a config error, exit 2) if it cannot work. */
  public ResourcePlan check() {
    List<String> problems = problems();
    if (!problems.isEmpty()) {
      throw new ConfigException(
          "the resources cannot run this model: " + String.join("; ", problems));
    }
    return this;
  }

  private static String mib(long bytes) {
    return (bytes + MIB - 1) / MIB + "m";
  }
}
