package io.spindle.worker.collective;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;

/**
 * Where a collective task's steady steps go, phase by phase, in wall time and in the training
 * thread's CPU time (wall without CPU: waiting for a peer or for a core), with the whole JVM's CPU
 * time over the same steps (what every other thread took). Off unless the system property {@value
 * #PROPERTY} is {@code true}; a task then prints one line per round to standard error. A diagnostic
 * for docs/steady-step.md, comparable phase by phase with {@code bench --profile-collective}.
 */
final class StepPhases {
  static final String PROPERTY = "spindle.stepPhases";

  enum Phase {
    DATA("data"),
    GRADIENT("fwd+bwd+copy"),
    REDUCE("reduce-scatter"),
    UPDATE("optimiser"),
    GATHER("all-gather"),
    COPY_IN("copy-in"),
    REPORT("report");

    final String label;

    Phase(String label) {
      this.label = label;
    }
  }

  private final ThreadMXBean mx = ManagementFactory.getThreadMXBean();
  private final long[] wall = new long[Phase.values().length];
  private final long[] cpu = new long[wall.length];
  private final int skip;
  private int steps;
  private boolean on;
  private long lastWall;
  private long lastCpu;
  private long firstWall;
  private long firstProcessCpu;
  private long firstCompileMillis;
  private long firstGcMillis;
  private java.util.Map<Long, Long> firstThreads;

  private StepPhases(int skip) {
    this.skip = skip;
  }

  /** A recorder when the property is set, else null (callers test for null). */
  static StepPhases create(int skip) {
    return Boolean.getBoolean(PROPERTY) ? new StepPhases(skip) : null;
  }

  /** Marks the start of step {@code s}. */
  void begin(int s) {
    on = s >= skip;
    if (!on) {
      return;
    }
    if (steps == 0) {
      firstWall = System.nanoTime();
      firstProcessCpu = processCpu();
      firstCompileMillis = compileMillis();
      firstGcMillis = gcMillis();
      firstThreads = threadCpu();
    }
    steps++;
    lastWall = System.nanoTime();
    lastCpu = mx.getCurrentThreadCpuTime();
  }

  /** Ends phase {@code p} (it began where the last phase ended). */
  void end(Phase p) {
    if (!on) {
      return;
    }
    long w = System.nanoTime();
    long c = mx.getCurrentThreadCpuTime();
    wall[p.ordinal()] += w - lastWall;
    cpu[p.ordinal()] += c - lastCpu;
    lastWall = w;
    lastCpu = c;
  }

  /** Prints the round's line for {@code rank}. */
  void print(int rank, long firstIteration) {
    if (steps == 0) {
      return;
    }
    double total = (System.nanoTime() - firstWall) / 1e6 / steps;
    double process = (processCpu() - firstProcessCpu) / 1e6 / steps;
    java.util.Map<Long, Long> threads = threadCpu();
    long visible = 0;
    java.util.List<long[]> others = new java.util.ArrayList<>();
    for (java.util.Map.Entry<Long, Long> e : threads.entrySet()) {
      long d = e.getValue() - firstThreads.getOrDefault(e.getKey(), 0L);
      visible += d;
      others.add(new long[] {e.getKey(), d});
    }
    others.sort((a, c) -> Long.compare(c[1], a[1]));
    StringBuilder b =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "spindle step phases: rank %d, round from %d, %d steps: %.3f ms/step wall, JVM"
                    + " CPU %.3f ms/step;",
                rank,
                firstIteration,
                steps,
                total,
                process));
    for (Phase p : Phase.values()) {
      b.append(
          String.format(
              Locale.ROOT,
              " %s %.3f/%.3f",
              p.label,
              wall[p.ordinal()] / 1e6 / steps,
              cpu[p.ordinal()] / 1e6 / steps));
    }
    b.append(
        String.format(
            Locale.ROOT,
            "; JIT compile %.3f ms/step, GC %.3f ms/step, hidden threads (JIT, GC, VM) CPU %.3f"
                + " ms/step; Java threads:",
            (compileMillis() - firstCompileMillis) / (double) steps,
            (gcMillis() - firstGcMillis) / (double) steps,
            (processCpu() - firstProcessCpu - visible) / 1e6 / steps));
    for (int i = 0; i < Math.min(8, others.size()); i++) {
      java.lang.management.ThreadInfo info = mx.getThreadInfo(others.get(i)[0]);
      b.append(
          String.format(
              Locale.ROOT,
              " %s %.3f",
              info == null ? "#" + others.get(i)[0] : info.getThreadName(),
              others.get(i)[1] / 1e6 / steps));
    }
    System.err.println(b);
  }

  private java.util.Map<Long, Long> threadCpu() {
    java.util.Map<Long, Long> out = new java.util.HashMap<>();
    for (long id : mx.getAllThreadIds()) {
      long c = mx.getThreadCpuTime(id);
      if (c >= 0) {
        out.put(id, c);
      }
    }
    return out;
  }

  private static long compileMillis() {
    java.lang.management.CompilationMXBean c = ManagementFactory.getCompilationMXBean();
    return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() : 0;
  }

  private static long gcMillis() {
    long sum = 0;
    for (java.lang.management.GarbageCollectorMXBean g :
        ManagementFactory.getGarbageCollectorMXBeans()) {
      sum += Math.max(0, g.getCollectionTime());
    }
    return sum;
  }

  private static long processCpu() {
    return ManagementFactory.getOperatingSystemMXBean()
            instanceof com.sun.management.OperatingSystemMXBean os
        ? os.getProcessCpuTime()
        : 0;
  }
}
