package io.spindle.config;

/**
 * When and where a run saves checkpoints, and whether it resumes from one. A checkpoint is written
 * after every {@code everySteps} global steps (at the end of the round that reaches the step),
 * after every epoch's evaluation when {@code everyEpoch}, and once at the end of the run, whenever
 * either trigger is on.
 *
 * @param everySteps checkpoint every N global steps (0 = not by steps)
 * @param everyEpoch checkpoint at the end of every epoch
 * @param keepLast keep the newest N checkpoints (> 0)
 * @param keepEvery also keep, for ever, every checkpoint whose global step is a multiple of K (0 =
 *     none)
 * @param dir a Hadoop file system path or URI ({@code file:///...}, {@code hdfs://...}); empty:
 *     {@code checkpoints} inside the run's output directory
 * @param resume never, or auto: continue from the newest valid checkpoint in {@code dir}
 */
public record CheckpointConfig(
    long everySteps,
    boolean everyEpoch,
    int keepLast,
    long keepEvery,
    String dir,
    ResumeMode resume)
    implements java.io.Serializable {
  public CheckpointConfig {
    Check.nonNegative("everySteps", everySteps);
    Check.positive("keepLast", keepLast);
    Check.nonNegative("keepEvery", keepEvery);
    dir = dir == null ? "" : dir.trim();
    resume = resume == null ? ResumeMode.NEVER : resume;
  }

  /** Every epoch and at the end, keeping the last 3, into the output directory; no resume. */
  public static CheckpointConfig defaults() {
    return new CheckpointConfig(0, true, 3, 0, "", ResumeMode.NEVER);
  }

  /** Whether any checkpoint is written. */
  public boolean enabled() {
    return everySteps > 0 || everyEpoch;
  }
}
