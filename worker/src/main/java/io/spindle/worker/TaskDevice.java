package io.spindle.worker;

import io.spindle.runtime.Nd4jRuntime;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * The accelerator Spark assigned to the running task ({@code spark.task.resource.gpu.amount}),
 * bound for ND4J at the start of the task's work by {@link NetworkPool}. The address is kept per
 * thread so that the executor plugin can report which device each task used.
 */
public final class TaskDevice {
  private static final ThreadLocal<String> CURRENT = new ThreadLocal<>();

  private TaskDevice() {}

  /** Binds ND4J to the task's GPU, if Spark gave it one; a no-op outside tasks or without GPUs. */
  public static void bind() {
    TaskContext task = TaskContext.get();
    if (task == null) {
      return;
    }
    ResourceInformation gpu = task.resources().get("gpu").getOrElse(() -> null);
    if (gpu == null || gpu.addresses().length == 0) {
      return;
    }
    String address = gpu.addresses()[0];
    if (!address.equals(CURRENT.get())) {
      Nd4jRuntime.bindDevice(address);
      CURRENT.set(address);
    }
  }

  /** The GPU address this thread's task was bound to, or null. */
  public static String current() {
    return CURRENT.get();
  }

  /** Forgets this thread's binding (the task ended; Spark reuses the thread). */
  public static void clear() {
    CURRENT.remove();
  }
}
