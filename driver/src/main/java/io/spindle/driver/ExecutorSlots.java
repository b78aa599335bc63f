package io.spindle.driver;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.SparkConf;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.cluster.ExecutorInfo;
import scala.Tuple2;

/**
 * The executors of the application and their cores and resources, as Spark announces them: a {@link
 * SparkListener} that {@link io.spindle.driver.cluster.SparkContexts#conf} registers through {@code
 * spark.extraListeners}, so Spark creates it before any executor registers and it misses none
 * (Spark's own count of free slots is not public API). {@link #of} finds the instance of a context
 * by a token {@link io.spindle.driver.cluster.SparkContexts#conf} puts into the configuration.
 */
public final class ExecutorSlots extends SparkListener {
  /** The configuration key holding the token that names this context's listener. */
  public static final String TOKEN_KEY = "spark.spindle.executorSlots.token";

  private static final Map<String, ExecutorSlots> BY_TOKEN = new ConcurrentHashMap<>();
  private final String token;
  private final Map<String, ExecutorInfo> executors = new ConcurrentHashMap<>();

  /** Called by Spark for {@code spark.extraListeners}. */
  public ExecutorSlots(SparkConf conf) {
    this.token = conf.get(TOKEN_KEY, null);
    if (token != null) {
      BY_TOKEN.put(token, this);
    }
  }

  /** The listener of the context whose configuration is {@code conf}, if it has one. */
  public static Optional<ExecutorSlots> of(SparkConf conf) {
    String token = conf.get(TOKEN_KEY, null);
    return token == null ? Optional.empty() : Optional.ofNullable(BY_TOKEN.get(token));
  }

  @Override
  public void onExecutorAdded(SparkListenerExecutorAdded added) {
    executors.put(added.executorId(), added.executorInfo());
  }

  @Override
  public void onExecutorRemoved(SparkListenerExecutorRemoved removed) {
    executors.remove(removed.executorId());
  }

  @Override
  public void onApplicationEnd(SparkListenerApplicationEnd end) {
    if (token != null) {
      BY_TOKEN.remove(token);
    }
  }

  /**
   * Tasks the executors can run at once: per executor, its cores / {@code spark.task.cpus}, and for
   * each resource a task claims ({@code spark.task.resource.<name>.amount}) its addresses / amount,
   * whichever is smallest; summed over executors (as Spark counts barrier slots).
   */
  public int slots(SparkConf conf) {
    int taskCpus = Math.max(1, conf.getInt("spark.task.cpus", 1));
    Map<String, Double> perTask = taskResources(conf);
    int total = 0;
    for (ExecutorInfo e : executors.values()) {
      total += slotsOf(e, taskCpus, perTask);
    }
    return total;
  }

  /** The executors, for messages: {@code 2 [1 on 10.0.0.5: 2 cores, 2 on 10.0.0.6: 1 core]}. */
  public String describe() {
    List<String> parts = new ArrayList<>();
    for (Map.Entry<String, ExecutorInfo> e : new TreeMap<>(executors).entrySet()) {
      int cores = e.getValue().totalCores();
      parts.add(
          String.format(
              Locale.ROOT,
              "%s on %s: %d core%s",
              e.getKey(),
              e.getValue().executorHost(),
              cores,
              cores == 1 ? "" : "s"));
    }
    return executors.size() + (parts.isEmpty() ? "" : " " + parts);
  }

  static int slotsOf(ExecutorInfo e, int taskCpus, Map<String, Double> perTask) {
    int slots = e.totalCores() / taskCpus;
    Map<String, ResourceInformation> resources =
        scala.collection.JavaConverters.mapAsJavaMap(e.resourcesInfo());
    for (Map.Entry<String, Double> r : perTask.entrySet()) {
      ResourceInformation info = resources.get(r.getKey());
      int addresses = info == null ? 0 : info.addresses().length;
      double amount = r.getValue();
      int bySlot =
          amount >= 1
              ? (int) Math.floor(addresses / amount)
              : addresses * (int) Math.floor(1 / amount);
      slots = Math.min(slots, bySlot);
    }
    return slots;
  }

  static Map<String, Double> taskResources(SparkConf conf) {
    Map<String, Double> out = new TreeMap<>();
    for (Tuple2<String, String> kv : conf.getAllWithPrefix("spark.task.resource.")) {
      if (kv._1().endsWith(".amount")) {
        String name = kv._1().substring(0, kv._1().length() - ".amount".length());
        out.put(name, Double.parseDouble(kv._2().trim()));
      }
    }
    return out;
  }
}
