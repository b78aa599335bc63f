package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.OptimizerType;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The optimiser table of {@code bench --profile-collective}: a row and a time per optimiser. */
class OptimizerProfileTest {
  @Test
  void timesEveryOptimiserAndTheFusedMean() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    double[] ns = OptimizerProfile.run(1000, 2, new PrintStream(out, true, StandardCharsets.UTF_8));
    String table = out.toString(StandardCharsets.UTF_8);
    assertEquals(OptimizerType.values().length + 1, ns.length);
    for (double v : ns) {
      assertTrue(v > 0 && Double.isFinite(v), "ns per parameter " + v);
    }
    for (OptimizerType t : OptimizerType.values()) {
      assertTrue(table.contains("| " + t.configName() + " |"), t + " in\n" + table);
    }
    assertTrue(table.contains("mean fused"), table);
    assertTrue(table.contains("over 1000 parameters"), table);
  }
}
