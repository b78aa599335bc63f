package io.spindle.driver.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.config.ConfigLoader;
import io.spindle.config.OptimizerType;
import io.spindle.config.SpindleConfig;
import io.spindle.driver.ObjectStores;
import io.spindle.driver.TrainingDivergedException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoint visibility where a directory rename is not atomic (object stores): files are written
 * in place, the manifest last; a directory without a manifest is never resumed from and is removed
 * at the next start; deleting one deletes its manifest first. The store is opened in its
 * object-store mode on a local folder here, through {@link Recording}, which records the order of
 * creates and deletes; {@code S3StorageIT} (deploy) runs the same code against a real S3 server.
 */
class ObjectStoreCheckpointTest {
  @TempDir Path tmp;
  private CheckpointStore store;

  /** The local file system, recording "create DIR/FILE" and "delete DIR[/FILE]" in order. */
  public static class Recording extends LocalFileSystem {
    static final List<String> EVENTS = Collections.synchronizedList(new ArrayList<>());

    private static String name(org.apache.hadoop.fs.Path p) {
      return p.getName().startsWith("step-")
          ? p.getName()
          : p.getParent().getName() + "/" + p.getName();
    }

    @Override
    public FSDataOutputStream create(
        org.apache.hadoop.fs.Path f,
        FsPermission permission,
        boolean overwrite,
        int bufferSize,
        short replication,
        long blockSize,
        Progressable progress)
        throws IOException {
      EVENTS.add("create " + name(f));
      return super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public boolean delete(org.apache.hadoop.fs.Path f, boolean recursive) throws IOException {
      boolean deleted = super.delete(f, recursive);
      if (deleted) {
        EVENTS.add("delete " + name(f));
      }
      return deleted;
    }
  }

  @BeforeEach
  void open() {
    Configuration conf = new Configuration();
    conf.setClass("fs.file.impl", Recording.class, FileSystem.class);
    conf.setBoolean("fs.file.impl.disable.cache", true);
    store = CheckpointStore.open(tmp.resolve("ck").toUri().toString(), conf, false);
    Recording.EVENTS.clear();
  }

  private static CheckpointSnapshot snapshot(long step, double[] params) {
    return new CheckpointSnapshot(
        step,
        0,
        (int) step,
        100,
        false,
        step * 10,
        42L,
        10,
        2,
        "collective",
        OptimizerType.MOMENTUM,
        params,
        params.clone(),
        false,
        ConfigLoader.toYaml(SpindleConfig.defaults()).getBytes(StandardCharsets.UTF_8));
  }

  private Path dirOf(long step) {
    return tmp.resolve("ck").resolve(String.format("step-%012d", step));
  }

  private static String text(ByteArrayOutputStream b) {
    return b.toString(StandardCharsets.UTF_8);
  }

  @Test
  void objectStoreSchemesAreKnownAndLocalAndHdfsRenameAtomically() throws Exception {
    Configuration conf = new Configuration();
    assertTrue(ObjectStores.renameIsAtomic(FileSystem.getLocal(conf)));
    // the scheme decides; no connection is made
    for (String scheme : List.of("s3a", "gs", "abfs", "wasbs")) {
      FileSystem fake =
          new org.apache.hadoop.fs.RawLocalFileSystem() {
            @Override
            public String getScheme() {
              return scheme;
            }
          };
      assertFalse(ObjectStores.renameIsAtomic(fake), scheme);
    }
    FileSystem hdfs =
        new org.apache.hadoop.fs.RawLocalFileSystem() {
          @Override
          public String getScheme() {
            return "hdfs";
          }

          @Override
          public URI getUri() {
            return URI.create("hdfs://127.0.0.1:1/");
          }
        };
    assertTrue(ObjectStores.renameIsAtomic(hdfs));
  }

  @Test
  void writesInPlaceWithTheManifestAndNoTemporaryDirectory() throws Exception {
    double[] p = {1.5, -2.25, 3.0};
    Path written = Path.of(URI.create(store.write(snapshot(10, p)).toUri().toString()));
    assertEquals(dirOf(10), written);
    try (Stream<Path> s = Files.list(tmp.resolve("ck"))) {
      assertEquals(List.of("step-000000000010"), s.map(f -> f.getFileName().toString()).toList());
    }
    assertTrue(Files.exists(dirOf(10).resolve(CheckpointStore.MANIFEST)));
    assertEquals(
        List.of(
            "create step-000000000010/params.bin",
            "create step-000000000010/optimizer.bin",
            "create step-000000000010/config.yaml",
            "create step-000000000010/manifest.json"),
        Recording.EVENTS,
        "the manifest is written last");
    Checkpoint cp = store.read(store.pathOf(10));
    assertArrayEquals(new float[] {1.5f, -2.25f, 3.0f}, cp.params().toFloatVector());
  }

  @Test
  void aWriterThatDiedBeforeTheManifestLeavesNothingResumable() throws Exception {
    store.write(snapshot(10, new double[] {1, 2, 3}));
    store.write(snapshot(20, new double[] {4, 5, 6}));
    // What a writer killed after its first upload leaves: params.bin, no manifest.
    Files.delete(dirOf(20).resolve(CheckpointStore.MANIFEST));
    Files.delete(dirOf(20).resolve(CheckpointStore.OPTIMIZER));
    ByteArrayOutputStream warnings = new ByteArrayOutputStream();
    Checkpoint cp =
        store.newestValid(new PrintStream(warnings, true, StandardCharsets.UTF_8)).orElseThrow();
    assertEquals(10, cp.globalStep());
    assertTrue(text(warnings).contains("step-000000000020 has no manifest.json"), text(warnings));

    ByteArrayOutputStream removed = new ByteArrayOutputStream();
    store.removePartial(new PrintStream(removed, true, StandardCharsets.UTF_8));
    assertTrue(text(removed).contains("removing partial checkpoint"), text(removed));
    assertFalse(Files.exists(dirOf(20)));
    assertTrue(Files.exists(dirOf(10).resolve(CheckpointStore.MANIFEST)));
    assertEquals(List.of(10L), store.steps());
  }

  @Test
  void aCompleteCheckpointIsNeverRemovedAsPartial() {
    store.write(snapshot(10, new double[] {1, 2, 3}));
    ByteArrayOutputStream removed = new ByteArrayOutputStream();
    store.removePartial(new PrintStream(removed, true, StandardCharsets.UTF_8));
    assertEquals("", text(removed));
    assertEquals(List.of(10L), store.steps());
  }

  @Test
  void replacingACheckpointAndRetentionRemoveTheManifestFirst() throws Exception {
    store.write(snapshot(10, new double[] {1, 2, 3}));
    Recording.EVENTS.clear();
    store.write(snapshot(10, new double[] {7, 8, 9}));
    assertEquals(
        List.of(
            "delete step-000000000010/manifest.json",
            "delete step-000000000010",
            "create step-000000000010/params.bin"),
        Recording.EVENTS.subList(0, 3),
        "a replaced checkpoint stops being one (manifest deleted) before anything else changes");
    assertArrayEquals(new float[] {7, 8, 9}, store.read(store.pathOf(10)).params().toFloatVector());
    store.write(snapshot(20, new double[] {1, 2, 3}));
    store.write(snapshot(30, new double[] {1, 2, 3}));
    Recording.EVENTS.clear();
    store.retain(2, 0);
    assertEquals(
        List.of("delete step-000000000010/manifest.json", "delete step-000000000010"),
        Recording.EVENTS,
        "retention deletes the manifest first");
    assertEquals(List.of(30L, 20L), store.steps());
    assertFalse(Files.exists(dirOf(10)));
  }

  @Test
  void aDivergedStateLeavesNoDirectory() {
    assertThrows(
        TrainingDivergedException.class,
        () -> store.write(snapshot(10, new double[] {1, Double.NaN, 3})));
    assertFalse(Files.exists(dirOf(10)));
  }
}
