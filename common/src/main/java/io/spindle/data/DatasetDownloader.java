package io.spindle.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a named data set's files into a local cache, verified.
 *
 * <p>Source: the {@code mirror} argument if non-empty, else the environment variable {@code
 * SPINDLE_DATA_MIRROR}, else the data set's official URLs. A mirror is a local folder, a {@code
 * file:} URI or an http(s) URL laid out like the official sites per data set: {@code
 * <mirror>/<dataset>/<file>}.
 *
 * <p>Cache: {@code <cacheDir>/<dataset>/<file>}. A cached file is verified (SHA-256 and size of its
 * decompressed content) on every use; one that fails is fetched again. A fetched file is written to
 * a temporary name in the cache folder, verified, then atomically renamed, so the final name only
 * ever holds a complete, verified file.
 */
public final class DatasetDownloader {
  private static final Logger LOG = LoggerFactory.getLogger(DatasetDownloader.class);
  public static final String MIRROR_ENV = "SPINDLE_DATA_MIRROR";

  private DatasetDownloader() {}

  /** File name to verified cached path for every file of {@code spec}. */
  public static Map<String, Path> fetch(DatasetSpec spec, String mirror, Path cacheDir) {
    List<String> bases = sources(spec, mirror, System.getenv(MIRROR_ENV));
    Path dir = cacheDir.resolve(spec.name());
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new DataFormatException("cannot create cache folder " + dir + ": " + e, e);
    }
    Map<String, Path> out = new LinkedHashMap<>();
    for (Map.Entry<String, DatasetSpec.FileSpec> f : new TreeMap<>(spec.files()).entrySet()) {
      out.put(f.getKey(), fetchFile(spec, f.getKey(), f.getValue(), bases, dir));
    }
    return out;
  }

  /**
   * Where to fetch from, in order: the mirror (argument, then environment) resolved to its data set
   * folder, else the official URLs.
   */
  static List<String> sources(DatasetSpec spec, String mirror, String envMirror) {
    return sources(spec.name(), spec.baseUrls(), mirror, envMirror);
  }

  static List<String> sources(String name, List<String> baseUrls, String mirror, String envMirror) {
    String m = mirror != null && !mirror.isBlank() ? mirror : envMirror;
    if (m == null || m.isBlank()) {
      return baseUrls;
    }
    m = m.trim();
    String root;
    if (m.startsWith("http://") || m.startsWith("https://") || m.startsWith("file:")) {
      root = m.endsWith("/") ? m : m + "/";
    } else {
      Path folder = Path.of(m).toAbsolutePath().normalize();
      if (!Files.isDirectory(folder)) {
        throw new DataFormatException(
            "data mirror " + m + " (" + folder + ") is not a readable folder");
      }
      root = folder.toUri().toString();
    }
    return List.of(root + name + "/");
  }

  private static Path fetchFile(
      DatasetSpec spec, String name, DatasetSpec.FileSpec expected, List<String> bases, Path dir) {
    Path target = dir.resolve(name);
    if (Files.exists(target)) {
      String problem = verify(target, expected);
      if (problem == null) {
        return target;
      }
      LOG.warn("cached {} failed verification ({}); fetching it again", target, problem);
    }
    List<String> failures = new ArrayList<>();
    for (String base : bases) {
      String url = base + name;
      Path tmp = null;
      try {
        tmp = Files.createTempFile(dir, "." + name + ".", ".part");
        copy(url, tmp);
        String problem = verify(tmp, expected);
        if (problem != null) {
          failures.add(url + ": " + problem);
          continue;
        }
        move(tmp, target);
        tmp = null;
        LOG.info("cached {} from {}", target, url);
        return target;
      } catch (IOException e) {
        failures.add(url + ": " + describe(e));
      } finally {
        if (tmp != null) {
          try {
            Files.deleteIfExists(tmp);
          } catch (IOException ignored) {
            // the temporary name is never read; best effort
          }
        }
      }
    }
    throw new DataFormatException(
        "cannot obtain " + spec.name() + "/" + name + ": " + String.join("; ", failures));
  }

  private static String describe(IOException e) {
    if (e instanceof NoSuchFileException) {
      return "no such file";
    }
    return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }

  private static void copy(String url, Path to) throws IOException {
    URI uri = URI.create(url);
    if ("file".equals(uri.getScheme())) {
      Files.copy(Path.of(uri), to, StandardCopyOption.REPLACE_EXISTING);
      return;
    }
    HttpClient client =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(20))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(10)).build();
    try {
      HttpResponse<InputStream> response =
          client.send(request, HttpResponse.BodyHandlers.ofInputStream());
      if (response.statusCode() != 200) {
        response.body().close();
        throw new IOException("HTTP status " + response.statusCode());
      }
      try (InputStream in = response.body();
          OutputStream out = Files.newOutputStream(to)) {
        in.transferTo(out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** Null when the file's decompressed content matches; else what is wrong. */
  static String verify(Path file, DatasetSpec.FileSpec expected) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    long size = 0;
    try (InputStream raw = Files.newInputStream(file);
        InputStream in =
            new DigestInputStream(new CheckedGzipInputStream(file.toString(), raw), sha)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) >= 0) {
        size += n;
      }
    } catch (IOException e) {
      return "not a readable gzip file (" + describe(e) + ")";
    } catch (DataFormatException e) { // a damaged gzip stream: CRC32, ISIZE, truncation
      return e.getMessage();
    }
    String actual = HexFormat.of().formatHex(sha.digest());
    if (size != expected.size() || !actual.equals(expected.sha256())) {
      return "expected decompressed SHA-256 "
          + expected.sha256()
          + " ("
          + expected.size()
          + " bytes), found "
          + actual
          + " ("
          + size
          + " bytes)";
    }
    return null;
  }

  /**
   * Brings an archive data set (CIFAR) into the cache and returns the folder that holds its
   * extracted members ({@code <cacheDir>/<name>/<folder>}). The archive is downloaded to a
   * temporary name, its MD5 checked, renamed into place; the members are extracted into a temporary
   * folder, their sizes checked, and the folder renamed into place, so the cache never holds a
   * partial archive or a partially extracted folder under its final name.
   */
  public static Path fetchArchive(ArchiveSpec spec, String mirror, Path cacheDir) {
    Path dir = cacheDir.resolve(spec.name());
    Path extracted = dir.resolve(spec.folder());
    if (membersComplete(spec, extracted) == null) {
      return extracted;
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new DataFormatException("cannot create cache folder " + dir + ": " + e, e);
    }
    List<String> bases = sources(spec.name(), spec.baseUrls(), mirror, System.getenv(MIRROR_ENV));
    Path archive = dir.resolve(spec.archive());
    if (!Files.exists(archive) || !spec.md5().equals(md5(archive))) {
      List<String> failures = new ArrayList<>();
      for (String base : bases) {
        String url = base + spec.archive();
        Path tmp = null;
        try {
          tmp = Files.createTempFile(dir, "." + spec.archive() + ".", ".part");
          copy(url, tmp);
          String actual = md5(tmp);
          if (!spec.md5().equals(actual)) {
            failures.add(url + ": expected MD5 " + spec.md5() + ", found " + actual);
            continue;
          }
          move(tmp, archive);
          tmp = null;
          break;
        } catch (IOException e) {
          failures.add(url + ": " + describe(e));
        } finally {
          deleteQuietly(tmp);
        }
      }
      if (!Files.exists(archive)) {
        throw new DataFormatException(
            "cannot obtain "
                + spec.name()
                + "/"
                + spec.archive()
                + ": "
                + String.join("; ", failures));
      }
    }
    extract(spec, archive, dir, extracted);
    return extracted;
  }

  /** Null when every member is in {@code folder} with its size; else what is missing. */
  static String membersComplete(ArchiveSpec spec, Path folder) {
    for (Map.Entry<String, Long> m : new TreeMap<>(spec.sizes()).entrySet()) {
      Path f = folder.resolve(m.getKey().substring(m.getKey().indexOf('/') + 1));
      try {
        if (!Files.isRegularFile(f) || Files.size(f) != m.getValue()) {
          return f + " missing or not " + m.getValue() + " bytes";
        }
      } catch (IOException e) {
        return f + ": " + describe(e);
      }
    }
    return null;
  }

  private static void extract(ArchiveSpec spec, Path archive, Path dir, Path extracted) {
    Path tmp = null;
    try {
      tmp = Files.createTempDirectory(dir, "." + spec.folder() + ".");
      try (InputStream in = new GZIPInputStream(Files.newInputStream(archive), 1 << 16)) {
        TarStream tar = new TarStream(archive.toString(), in);
        while (tar.next()) {
          if (spec.sizes().containsKey(tar.name())) {
            Path out = tmp.resolve(tar.name().substring(tar.name().indexOf('/') + 1));
            try (OutputStream o = Files.newOutputStream(out)) {
              tar.entryStream().transferTo(o);
            }
          }
        }
      }
      String problem = membersComplete(spec, tmp);
      if (problem != null) {
        throw new DataFormatException(archive + ": incomplete archive: " + problem);
      }
      if (Files.exists(extracted)) {
        try (var old = Files.list(extracted)) {
          for (Path p : old.toList()) {
            Files.delete(p);
          }
        }
        Files.delete(extracted);
      }
      move(tmp, extracted);
      tmp = null;
      LOG.info("extracted {} into {}", archive, extracted);
    } catch (IOException e) {
      throw new DataFormatException("cannot extract " + archive + ": " + describe(e), e);
    } finally {
      if (tmp != null) {
        try (var left = Files.list(tmp)) {
          for (Path p : left.toList()) {
            Files.deleteIfExists(p);
          }
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // a temporary folder is never read; best effort
        }
      }
    }
  }

  static String md5(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("MD5");
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) >= 0) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      return "unreadable (" + describe(e) + ")";
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void deleteQuietly(Path p) {
    if (p != null) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException ignored) {
        // the temporary name is never read; best effort
      }
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
