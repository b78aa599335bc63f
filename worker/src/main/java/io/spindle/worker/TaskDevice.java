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
  /** The device a task was bound to, with the task's stage and partition. */
  public record Binding(String address, int stageId, int partitionId) {}

  private static final ThreadLocal<Binding> CURRENT = new ThreadLocal<>();

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
    Binding previous = CURRENT.get();
    if (previous == null || !address.equals(previous.address())) {
      Nd4jRuntime.bindDevice(address);
    }
    CURRENT.set(new Binding(address, task.stageId(), task.partitionId()));
  }

  /**
   * This thread's task's binding, or null. Still readable after the task body ended (Spark unsets
   * the TaskContext before the executor plugin's onTaskSucceeded runs in the same thread).
   */
  public static Binding current() {
    return CURRENT.get();
  }

  /** Forgets this thread's binding (the task ended; Spark reuses the thread). */
  public static void clear() {
    CURRENT.remove();
  }
}
