package io.spindle.driver.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.OptimizerType;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.TrainingDivergedException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checkpoint format: exact round trip, atomic layout, retention, and refusal of bad input. */
class CheckpointStoreTest {
  @TempDir Path tmp;
  private CheckpointStore store;

  @BeforeEach
  void open() {
    store = CheckpointStore.open(tmp.resolve("ck").toUri().toString(), new Configuration());
  }

  private static CheckpointSnapshot snapshot(long step, double[] params, boolean float64) {
    double[] state = new double[params.length * 2];
    for (int i = 0; i < state.length; i++) {
      state[i] = Math.scalb(1.0 + i, -(i % 40)) * (i % 2 == 0 ? 1 : -1);
    }
    return new CheckpointSnapshot(
        step,
        (int) (step / 10),
        (int) (step % 10),
        10,
        false,
        step * 100,
        42L,
        100,
        2,
        "gradient_sharing",
        OptimizerType.ADAM,
        params,
        state,
        float64,
        ConfigLoader.toYaml(SpindleConfig.defaults()).getBytes(StandardCharsets.UTF_8));
  }

  private static double[] values(int n, long seed) {
    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) r.nextGaussian();
    }
    return out;
  }

  private Path dirOf(long step) {
    return tmp.resolve("ck").resolve(String.format("step-%012d", step));
  }

  @Test
  void roundTripIsBitExactInBothPrecisions() {
    double[] p = values(1000, 1);
    p[3] = Float.MIN_VALUE;
    p[4] = -0.0;
    store.write(snapshot(7, p, false));
    Checkpoint cp = store.read(store.pathOf(7));
    float[] expected = new float[p.length];
    for (int i = 0; i < p.length; i++) {
      expected[i] = (float) p[i];
    }
    assertArrayEquals(expected, cp.params().toFloatVector());
    assertEquals(7, cp.globalStep());
    assertEquals(0, cp.epoch());
    assertEquals(7, cp.stepInEpoch());
    assertEquals(700, cp.examplesSeen());
    assertEquals(2000, cp.optimizerStateLength());
    assertEquals(ConfigLoader.toYaml(SpindleConfig.defaults()), cp.configYaml());
    assertEquals(
        42L * 0x9E3779B97F4A7C15L,
        cp.manifest().path("dataCursor").path("permutationSeed").asLong());
    assertEquals("1.0.0-M2.1", cp.manifest().path("provenance").path("dl4j").asText());

    double[] d = values(100, 2);
    d[0] = Math.PI;
    store.write(snapshot(8, d, true));
    Checkpoint c64 = store.read(store.pathOf(8));
    assertTrue(c64.float64());
    assertArrayEquals(d, c64.params().toDoubleVector());
    assertArrayEquals(snapshot(8, d, true).optimizerState(), c64.optimizerState().toDoubleVector());
  }

  @Test
  void layoutIsAManifestAndRawLittleEndianArraysWithNoTemporaryLeft() throws Exception {
    store.write(snapshot(3, new double[] {1.0, -2.5}, false));
    try (Stream<Path> s = Files.list(dirOf(3))) {
      assertEquals(
          List.of("config.yaml", "manifest.json", "optimizer.bin", "params.bin"),
          s.map(x -> x.getFileName().toString()).sorted().toList());
    }
    byte[] raw = Files.readAllBytes(dirOf(3).resolve("params.bin"));
    assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3f, 0, 0, 0x20, (byte) 0xc0}, raw);
    try (Stream<Path> s = Files.list(tmp.resolve("ck"))) {
      assertEquals(List.of("step-000000000003"), s.map(x -> x.getFileName().toString()).toList());
    }
  }

  @Test
  void retentionKeepsTheNewestAndEveryKth() {
    for (long step = 1; step <= 7; step++) {
      store.write(snapshot(step, values(10, step), false));
      store.retain(2, 3);
    }
    assertEquals(List.of(7L, 6L, 3L), store.steps());
  }

  @Test
  void aDivergedStateIsNeverWritten() {
    store.write(snapshot(1, values(10, 1), false));
    double[] bad = values(10, 2);
    bad[5] = Double.NaN;
    TrainingDivergedException e =
        assertThrows(TrainingDivergedException.class, () -> store.write(snapshot(2, bad, false)));
    assertTrue(e.getMessage().contains("params.bin[5] is NaN"), e.getMessage());
    assertEquals(List.of(1L), store.steps());
    assertFalse(Files.exists(dirOf(2)));
  }

  @Test
  void truncatedFileIsRefusedNamingIt() throws Exception {
    store.write(snapshot(5, values(100, 1), false));
    Path params = dirOf(5).resolve("params.bin");
    byte[] b = Files.readAllBytes(params);
    Files.write(params, java.util.Arrays.copyOf(b, b.length - 3));
    CheckpointException e =
        assertThrows(CheckpointException.class, () -> store.read(store.pathOf(5)));
    assertTrue(e.getMessage().contains(params.getFileName().toString()), e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    assertTrue(e.getMessage().contains("397 bytes, the manifest says 400"), e.getMessage());
  }

  @Test
  void flippedByteFailsTheChecksumNamingTheFile() throws Exception {
    store.write(snapshot(5, values(100, 1), false));
    Path state = dirOf(5).resolve("optimizer.bin");
    byte[] b = Files.readAllBytes(state);
    b[123] ^= 0x10;
    Files.write(state, b);
    CheckpointException e =
        assertThrows(CheckpointException.class, () -> store.read(store.pathOf(5)));
    assertTrue(e.getMessage().contains("optimizer.bin"), e.getMessage());
    assertTrue(e.getMessage().contains("SHA-256"), e.getMessage());
  }

  @Test
  void wrongFormatVersionIsRefused() throws Exception {
    store.write(snapshot(5, values(10, 1), false));
    Path manifest = dirOf(5).resolve("manifest.json");
    String text = Files.readString(manifest);
    assertTrue(text.contains("\"formatVersion\" : 1"), text);
    Files.writeString(manifest, text.replace("\"formatVersion\" : 1", "\"formatVersion\" : 2"));
    CheckpointException e =
        assertThrows(CheckpointException.class, () -> store.read(store.pathOf(5)));
    assertTrue(e.getMessage().contains("manifest.json"), e.getMessage());
    assertTrue(e.getMessage().contains("unsupported formatVersion 2"), e.getMessage());
  }

  @Test
  void missingManifestIsRefused() throws Exception {
    store.write(snapshot(5, values(10, 1), false));
    Files.delete(dirOf(5).resolve("manifest.json"));
    CheckpointException e =
        assertThrows(CheckpointException.class, () -> store.read(store.pathOf(5)));
    assertTrue(e.getMessage().contains("has no manifest.json"), e.getMessage());
    assertTrue(e.getMessage().contains("step-000000000005"), e.getMessage());
  }

  @Test
  void resumeSkipsDamagedCheckpointsWithAWarningInFavourOfAnOlderOne() throws Exception {
    store.write(snapshot(4, values(10, 4), false));
    store.write(snapshot(8, values(10, 8), false));
    store.write(snapshot(12, values(10, 12), false));
    Files.delete(dirOf(12).resolve("manifest.json"));
    Path p8 = dirOf(8).resolve("params.bin");
    byte[] b = Files.readAllBytes(p8);
    b[0] ^= 1;
    Files.write(p8, b);
    Files.createDirectories(tmp.resolve("ck").resolve(".tmp-step-000000000016-x"));
    ByteArrayOutputStream warnings = new ByteArrayOutputStream();
    Checkpoint cp =
        store.newestValid(new PrintStream(warnings, true, StandardCharsets.UTF_8)).orElseThrow();
    assertEquals(4, cp.globalStep());
    String w = warnings.toString(StandardCharsets.UTF_8);
    assertTrue(w.contains("skipping damaged checkpoint") && w.contains("step-000000000012"), w);
    assertTrue(w.contains("step-000000000008/params.bin"), w);
    assertFalse(w.contains("000000000016"), w);
  }

  /** A format-version-1 checkpoint checked into the repository must still load, bit for bit. */
  @Test
  void checkedInVersion1CheckpointStillLoads() throws Exception {
    Path dir =
        Path.of(getClass().getResource("/checkpoints/v1/step-000000000012/manifest.json").toURI())
            .getParent();
    Checkpoint cp = CheckpointStore.read(dir.toUri().toString(), new Configuration());
    assertEquals(12, cp.globalStep());
    assertEquals(1, cp.epoch());
    assertEquals(2, cp.stepInEpoch());
    assertArrayEquals(
        new float[] {0.5f, -1.25f, 3.0f, 1e-7f, -0.0f, 65504.0f}, cp.params().toFloatVector());
    float[] state = cp.optimizerState().toFloatVector();
    assertEquals(12, state.length);
    assertEquals((float) (0.01 * 11 - 0.03), state[11]);
  }
}
