package io.spindle.driver.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * report.html as a person sees it: opened in headless Chromium (Debian's {@code chromium}, which
 * {@code .ci/run} installs), it renders with no console message at all (no script error), its
 * script runs, and the charts, confusion matrix and tables are in the DOM. Skipped, saying why,
 * where Chromium is absent. {@code -Dspindle.report.screenshot=FILE} also saves a picture.
 */
class ReportChromiumTest {
  /** The browser: $SPINDLE_CHROMIUM, else Debian's /usr/bin/chromium. */
  static Path chromium() {
    String env = System.getenv("SPINDLE_CHROMIUM");
    return Path.of(env != null && !env.isBlank() ? env : "/usr/bin/chromium");
  }

  /** What Chromium printed: the DOM after scripts ran, and its log (console messages). */
  record Page(String dom, String log) {
    List<String> consoleMessages() {
      return log.lines().filter(l -> l.contains(":CONSOLE")).toList();
    }
  }

  static Page open(Path html, Path profile, String... extra) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                chromium().toString(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=" + profile,
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1200,3000"));
    cmd.addAll(List.of(extra));
    cmd.add(html.toUri().toString());
    Path out = profile.resolveSibling(profile.getFileName() + ".out");
    Path err = profile.resolveSibling(profile.getFileName() + ".err");
    Process p =
        new ProcessBuilder(cmd)
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    if (!p.waitFor(90, TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      throw new IllegalStateException("chromium did not finish within 90 s: " + cmd);
    }
    return new Page(
        Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  /** A finished run's files: 3 epochs of step records, summary, config, checkpoints, evaluation. */
  static void writeRun(Path dir) throws IOException {
    Files.createDirectories(dir.resolve("checkpoints/step-000000000060"));
    Files.createDirectories(dir.resolve("checkpoints/step-000000000120"));
    StringBuilder metrics = new StringBuilder();
    int steps = 40;
    for (int epoch = 1; epoch <= 3; epoch++) {
      for (int s = 5; s <= steps; s += 5) {
        long g = (long) (epoch - 1) * steps + s;
        metrics.append(
            String.format(
                Locale.ROOT,
                "{\"type\":\"step\",\"epoch\":%d,\"step\":%d,\"global_step\":%d,\"loss\":%.5f,"
                    + "\"accuracy\":%.5f,\"samples_per_second\":%.1f,\"learning_rate\":%.6g,"
                    + "\"wall_seconds\":%.2f}%n",
                epoch,
                s,
                g,
                2.3 * Math.exp(-g / 25.0) + 0.05,
                1 - 0.9 * Math.exp(-g / 20.0),
                8000 + 400 * Math.sin(g),
                0.001 * (1 - g / 120.0),
                g * 0.03));
      }
      metrics.append(
          String.format(
              Locale.ROOT,
              "{\"type\":\"epoch\",\"epoch\":%d,\"global_step\":%d,\"train_loss\":%.4f,"
                  + "\"train_accuracy\":%.4f,\"test_loss\":%.4f,\"test_accuracy\":%.4f,"
                  + "\"samples_per_second\":8123.4,\"wall_seconds\":%.1f}%n",
              epoch,
              epoch * steps,
              0.5 / epoch,
              0.9 + 0.02 * epoch,
              0.4 / epoch,
              0.91 + 0.02 * epoch,
              epoch * 1.3));
    }
    Files.writeString(dir.resolve("metrics.jsonl"), metrics);
    Files.writeString(
        dir.resolve("summary.json"),
        "{\"test_accuracy\":0.97,\"test_loss\":0.133,\"epochs\":3,\"steps\":120,"
            + "\"samples_per_second\":8123.4,\"wall_seconds\":4.2,\"workers\":2,"
            + "\"sync\":\"collective\",\"global_batch\":256,"
            + "\"bytes_sent_per_worker_per_step\":5108040.0,\"checkpoints_written\":2}");
    Files.writeString(
        dir.resolve("config.yaml"),
        "model:\n  layers:\n  - {type: dense, units: 800}\ndata:\n  dataset: mnist\n<script>x</script>\n");
    StringBuilder eval = new StringBuilder("{\"model\":\"run/model.zip\",\"data\":\"t10k\",");
    eval.append("\"examples\":10000,\"accuracy\":0.97,\"loss\":0.1,\"top5_accuracy\":0.999,");
    eval.append("\"macro_precision\":0.97,\"macro_recall\":0.97,\"macro_f1\":0.97,\"per_class\":[");
    StringBuilder matrix = new StringBuilder("[");
    for (int i = 0; i < 10; i++) {
      eval.append(
          String.format(
              Locale.ROOT,
              "%s{\"class\":%d,\"precision\":0.97,\"recall\":0.96,\"f1\":0.965,\"support\":1000}",
              i == 0 ? "" : ",",
              i));
      matrix.append(i == 0 ? "[" : ",[");
      for (int j = 0; j < 10; j++) {
        matrix.append(j == 0 ? "" : ",").append(i == j ? 970 : (j == (i + 3) % 10 ? 30 : 0));
      }
      matrix.append("]");
    }
    eval.append("],\"confusion_matrix\":").append(matrix).append("]}");
    Files.writeString(dir.resolve("evaluation.json"), eval);
  }

  @Test
  void reportRendersInChromiumWithoutScriptErrors(@TempDir Path tmp) throws Exception {
    assumeTrue(
        Files.isExecutable(chromium()),
        "Chromium is not installed at "
            + chromium()
            + ": apt-get install chromium (.ci/run does), or set SPINDLE_CHROMIUM");
    Path run = tmp.resolve("run");
    writeRun(run);
    HtmlReport.render(run);
    Path html = run.resolve("report.html");
    String source = Files.readString(html);
    assertTrue(source.contains("&lt;script&gt;x&lt;/script&gt;"), "config text is escaped");

    // the check can fail: a page with a script error is caught
    Path bad = tmp.resolve("bad.html");
    Files.writeString(bad, "<html><body><script>undefinedFunction();</script></body></html>");
    Page broken = open(bad, tmp.resolve("profile-bad"), "--dump-dom");
    assertTrue(
        broken.consoleMessages().stream().anyMatch(l -> l.contains("Uncaught ReferenceError")),
        "the negative control's error was not seen:\n" + broken.log());

    Page page = open(html, tmp.resolve("profile"), "--dump-dom");
    assertEquals(List.of(), page.consoleMessages(), "console messages:\n" + page.log());
    String dom = page.dom();
    assertTrue(dom.contains("data-report-ready=\"1\""), "the report's script ran:\n" + dom);
    assertEquals(5, count(dom, "<svg"), "4 charts and the confusion matrix");
    for (String text :
        List.of(
            "Training loss",
            "Accuracy",
            "Learning rate",
            "Throughput",
            "global step",
            "samples / s",
            "test accuracy (end of epoch)",
            "Confusion matrix",
            "predicted class",
            "true class",
            "Per class",
            "Run facts",
            "bytes sent per worker per step",
            "checkpoints in checkpoints")) {
      assertTrue(dom.contains(text), "missing: " + text);
    }
    assertTrue(count(dom, "class=\"grid\"") >= 20, "gridlines");
    assertEquals(100, count(dom, "<rect "), "10 x 10 confusion cells");

    String shot = System.getProperty("spindle.report.screenshot");
    if (shot != null) {
      open(html, tmp.resolve("profile-shot"), "--screenshot=" + Path.of(shot).toAbsolutePath());
    }
  }

  private static int count(String s, String what) {
    Matcher m = Pattern.compile(Pattern.quote(what)).matcher(s);
    int n = 0;
    while (m.find()) {
      n++;
    }
    return n;
  }
}
