package io.spindle.driver.monitor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/** The run summary's record of which GPU each training task was bound to (empty without GPUs). */
public final class DeviceFacts {
  private DeviceFacts() {}

  /**
   * {@code gpu_addresses}: the distinct addresses used; {@code gpu_address_by_executor}: executor
   * id to the addresses its tasks used; {@code gpu_tasks}: how many task reports arrived.
   */
  public static Map<String, Object> of() {
    List<SpindlePlugin.DeviceUse> uses = SpindlePlugin.deviceUses();
    Map<String, Object> out = new LinkedHashMap<>();
    if (uses.isEmpty()) {
      return out;
    }
    Map<String, TreeSet<String>> byExecutor = new TreeMap<>();
    TreeSet<String> all = new TreeSet<>();
    for (SpindlePlugin.DeviceUse u : uses) {
      byExecutor.computeIfAbsent(u.executorId(), e -> new TreeSet<>()).add(u.address());
      all.add(u.address());
    }
    out.put("gpu_addresses", List.copyOf(all));
    Map<String, Object> perExecutor = new TreeMap<>();
    byExecutor.forEach((e, a) -> perExecutor.put(e, List.copyOf(a)));
    out.put("gpu_address_by_executor", perExecutor);
    out.put("gpu_tasks", uses.size());
    return out;
  }
}
