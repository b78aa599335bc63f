package io.spindle.driver.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Where a run's code came from: the versions of Spindle, Spark, DL4J and ND4J and the git revision,
 * read from {@code spindle-build.properties}, which Maven fills in at build time (the revision
 * comes from the build's {@code spindle.git.revision} property, set by the git-commit-id plugin; a
 * build outside a git work tree records {@code unknown}).
 */
public final class Provenance {
  private static final String RESOURCE = "/io/spindle/driver/spindle-build.properties";

  private Provenance() {}

  /** Key to value, in a fixed order; values that were not filtered in are {@code unknown}. */
  public static Map<String, String> current() {
    Properties p = new Properties();
    try (InputStream in = Provenance.class.getResourceAsStream(RESOURCE)) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      // fall through: every value reads as unknown
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (String key :
        new String[] {"spindle", "spark", "scala", "dl4j", "nd4j", "gitRevision", "gitDirty"}) {
      String v = p.getProperty(key, "");
      out.put(key, v.isBlank() || v.startsWith("${") ? "unknown" : v.trim());
    }
    out.put("java", System.getProperty("java.version"));
    return out;
  }
}
