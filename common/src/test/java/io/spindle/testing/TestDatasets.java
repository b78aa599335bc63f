package io.spindle.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where tests find the data-set mirror ({@code ../shared/datasets} beside the repository). */
public final class TestDatasets {
  private TestDatasets() {}

  /** The mirror folder; fails (never skips) when it is missing, since CI always has it. */
  public static Path mirror() {
    String prop = System.getProperty("spindle.shared.datasets");
    Path[] candidates = {
      prop == null ? null : Path.of(prop),
      Path.of("../shared/datasets"),
      Path.of("../../shared/datasets"),
    };
    for (Path p : candidates) {
      if (p != null && Files.isDirectory(p.resolve("mnist"))) {
        return p.toAbsolutePath().normalize();
      }
    }
    throw new IllegalStateException(
        "data-set mirror not found: expected ../shared/datasets beside the repository (or the"
            + " system property spindle.shared.datasets), tried "
            + java.util.Arrays.toString(candidates));
  }
}
