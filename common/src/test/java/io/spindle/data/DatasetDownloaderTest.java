package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.testing.TestDatasets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetDownloaderTest {
  static final DatasetSpec MNIST = DatasetSpec.named("mnist");

  static Path copyMirror(Path to) throws IOException {
    Path dir = Files.createDirectories(to.resolve("mnist"));
    try (Stream<Path> files = Files.list(TestDatasets.mirror().resolve("mnist"))) {
      for (Path f : files.toList()) {
        Files.copy(f, dir.resolve(f.getFileName()));
      }
    }
    return to;
  }

  static List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void corruptMirrorFileIsRefusedAndNothingIsCached(@TempDir Path tmp) throws IOException {
    Path mirror = copyMirror(tmp.resolve("mirror"));
    Path bad = mirror.resolve("mnist").resolve(DatasetSpec.TEST_LABELS);
    // a valid gzip with the wrong content
    Files.write(bad, IdxReaderTest.gzip(IdxReaderTest.labels(2049, new byte[] {1, 2, 3})));
    Path cache = tmp.resolve("cache");
    String m =
        assertThrows(
                DataFormatException.class,
                () -> DatasetDownloader.fetch(MNIST, mirror.toString(), cache))
            .getMessage();
    assertTrue(m.contains("mnist/" + DatasetSpec.TEST_LABELS), m);
    assertTrue(m.contains("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"), m);
    assertTrue(m.contains("found "), m);
    assertFalse(Files.exists(cache.resolve("mnist").resolve(DatasetSpec.TEST_LABELS)));
    for (String name : names(cache.resolve("mnist"))) {
      assertFalse(name.endsWith(".part"), "temporary file left behind: " + name);
    }
  }

  @Test
  void secondFetchUsesTheVerifiedCache(@TempDir Path tmp) throws IOException {
    Path mirror = copyMirror(tmp.resolve("mirror"));
    Path cache = tmp.resolve("cache");
    Map<String, Path> first = DatasetDownloader.fetch(MNIST, mirror.toString(), cache);
    assertEquals(4, first.size());
    for (Path f : first.values()) {
      assertTrue(Files.isRegularFile(f));
    }
    try (Stream<Path> s = Files.walk(mirror)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    Map<String, Path> second = DatasetDownloader.fetch(MNIST, "", cache);
    assertEquals(first, second);
  }

  @Test
  void damagedCacheFileIsFetchedAgain(@TempDir Path tmp) throws IOException {
    Path mirror = copyMirror(tmp.resolve("mirror"));
    Path cache = tmp.resolve("cache");
    Path labels =
        DatasetDownloader.fetch(MNIST, mirror.toString(), cache).get(DatasetSpec.TEST_LABELS);
    Files.write(labels, new byte[] {1, 2, 3});
    DatasetDownloader.fetch(MNIST, mirror.toString(), cache);
    assertTrue(Files.size(labels) > 1000);
  }

  @Test
  void missingMirrorIsNamed(@TempDir Path tmp) {
    Path nowhere = tmp.resolve("no-such-mirror");
    String m =
        assertThrows(
                DataFormatException.class,
                () -> DatasetDownloader.fetch(MNIST, nowhere.toString(), tmp.resolve("cache")))
            .getMessage();
    assertTrue(m.contains(nowhere.toString()), m);
  }

  @Test
  void mirrorFolderMissingAFileNamesTheFile(@TempDir Path tmp) throws IOException {
    Path mirror = copyMirror(tmp.resolve("mirror"));
    Files.delete(mirror.resolve("mnist").resolve(DatasetSpec.TRAIN_LABELS));
    String m =
        assertThrows(
                DataFormatException.class,
                () -> DatasetDownloader.fetch(MNIST, mirror.toString(), tmp.resolve("cache")))
            .getMessage();
    assertTrue(m.contains(DatasetSpec.TRAIN_LABELS) && m.contains("no such file"), m);
  }

  @Test
  void mirrorSettingBeatsTheEnvironmentWhichBeatsTheOfficialSites() {
    Path mirror = TestDatasets.mirror();
    assertEquals(
        List.of(mirror.toUri() + "mnist/"),
        DatasetDownloader.sources(MNIST, mirror.toString(), "http://env.example/"));
    assertEquals(
        List.of("http://env.example/mnist/"),
        DatasetDownloader.sources(MNIST, "", "http://env.example"));
    assertEquals(MNIST.baseUrls(), DatasetDownloader.sources(MNIST, "", null));
  }
}
