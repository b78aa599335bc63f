package io.spindle.config;

/** Whether a run continues from a checkpoint of an earlier run in its output directory. */
public enum ResumeMode implements ConfigEnum {
  /** Always start from step 0 (the default). */
  NEVER,
  /**
   * Continue from the newest valid checkpoint, if there is one; damaged or partial checkpoints are
   * skipped with a warning; with none, start from step 0.
   */
  AUTO
}
