package io.spindle.driver.monitor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.driver.GlobalModel;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingState;
import io.spindle.sync.Evaluation;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code report.html}: the page a person opens to see how a run went. Rendered from the files of
 * the run directory, so training and {@code spindle evaluate} write the same page:
 *
 * <ul>
 *   <li>{@code metrics.jsonl}: per-step curves of training loss, accuracy (with each epoch's test
 *       accuracy), learning rate and throughput, each with labelled axes and gridlines;
 *   <li>{@code config.yaml}, {@code summary.json} and the checkpoint folder: the run's facts
 *       (config, sync, workers, wall time, bytes per step, checkpoints);
 *   <li>{@code evaluation.json} (written by {@code spindle evaluate}): headline metrics, the
 *       confusion matrix as a picture and the per-class precision, recall and F1.
 * </ul>
 *
 * <p>Self-contained: inline SVG and CSS, and one small inline script that shows the value under the
 * pointer on a chart (the page reads fully without it). Written to a temporary name and renamed. As
 * a listener it renders after every epoch and at the end of the run.
 */
public final class HtmlReport implements TrainingListener {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] PALETTE = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
  private final Path dir;
  private final String title;

  public HtmlReport(Path outputDir, String title) {
    this.dir = outputDir;
    this.title = title;
  }

  @Override
  public void onEpochEnd(TrainingState state, Evaluation test) {
    render(dir, title);
  }

  @Override
  public void onEnd(TrainingState state, GlobalModel model, Evaluation test) {
    render(dir, title);
  }

  /** Renders {@code dir/report.html} from the run files present in {@code dir}. */
  public static void render(Path dir, String title) {
    write(dir.resolve("report.html"), html(dir, title));
  }

  /** Renders with the title the run's data set gives ("Spindle run: mnist"). */
  public static void render(Path dir) {
    String dataset = "";
    for (String line : readLines(dir.resolve("config.yaml"))) {
      String t = line.trim();
      if (t.startsWith("dataset:")) {
        dataset = t.substring("dataset:".length()).trim();
        break;
      }
    }
    render(dir, dataset.isEmpty() ? "Spindle run" : "Spindle run: " + dataset);
  }

  /** The page for the run files in {@code dir}. */
  static String html(Path dir, String title) {
    List<JsonNode> steps = new ArrayList<>();
    List<JsonNode> epochs = new ArrayList<>();
    for (String line : readLines(dir.resolve("metrics.jsonl"))) {
      JsonNode n = parse(line);
      if (n == null) {
        continue;
      }
      if ("step".equals(n.path("type").asText())) {
        steps.add(n);
      } else if ("epoch".equals(n.path("type").asText())) {
        epochs.add(n);
      }
    }
    JsonNode summary = readJson(dir.resolve("summary.json"));
    JsonNode evaluation = readJson(dir.resolve("evaluation.json"));
    StringBuilder sb = new StringBuilder();
    sb.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .append("<title>")
        .append(escape(title))
        .append("</title><style>")
        .append(CSS)
        .append("</style></head><body><header><h1>")
        .append(escape(title))
        .append("</h1><p class=\"sub\">")
        .append(escape(headline(summary, epochs, evaluation)))
        .append("</p></header>");
    sb.append("<section><h2>Training curves</h2>");
    if (steps.isEmpty()) {
      sb.append("<p class=\"note\">No step records yet (metrics.jsonl).</p>");
    } else {
      sb.append("<div class=\"charts\">");
      sb.append(
          chart(
              "Training loss",
              "global step",
              "loss",
              List.of(series("training loss", steps, "global_step", "loss"))));
      List<Series> acc = new ArrayList<>();
      acc.add(series("training accuracy", steps, "global_step", "accuracy"));
      if (!epochs.isEmpty()) {
        acc.add(series("test accuracy (end of epoch)", epochs, "global_step", "test_accuracy"));
      }
      sb.append(chart("Accuracy", "global step", "accuracy", acc));
      sb.append(
          chart(
              "Learning rate",
              "global step",
              "learning rate",
              List.of(series("learning rate", steps, "global_step", "learning_rate"))));
      sb.append(
          chart(
              "Throughput",
              "global step",
              "samples / s",
              List.of(series("samples per second", steps, "global_step", "samples_per_second"))));
      sb.append("</div>");
      sb.append(
          "<p class=\"note\">One point per step record of metrics.jsonl (every training.logEvery"
              + " steps, or per sync round when a round is longer); point at a chart to read"
              + " values.</p>");
    }
    sb.append("</section>");
    if (!epochs.isEmpty()) {
      sb.append("<section><h2>Epochs</h2><table><thead><tr><th>epoch</th><th>global step</th>")
          .append("<th>train loss</th><th>train accuracy</th><th>test loss</th>")
          .append("<th>test accuracy</th><th>samples/s</th></tr></thead><tbody>");
      for (JsonNode e : epochs) {
        sb.append(
            String.format(
                Locale.ROOT,
                "<tr><td>%d</td><td>%d</td><td>%.4f</td><td>%.4f</td><td>%.4f</td>"
                    + "<td>%.4f</td><td>%,.0f</td></tr>",
                e.path("epoch").asInt(),
                e.path("global_step").asLong(),
                e.path("train_loss").asDouble(Double.NaN),
                e.path("train_accuracy").asDouble(Double.NaN),
                e.path("test_loss").asDouble(Double.NaN),
                e.path("test_accuracy").asDouble(Double.NaN),
                e.path("samples_per_second").asDouble(Double.NaN)));
      }
      sb.append("</tbody></table></section>");
    }
    sb.append(evaluationSection(evaluation));
    sb.append(factsSection(dir, summary));
    sb.append("<footer>Written by Spindle from the files of ")
        .append(escape(dir.toAbsolutePath().toString()))
        .append(".</footer>");
    sb.append("<script>").append(SCRIPT).append("</script></body></html>\n");
    return sb.toString();
  }

  private static String headline(JsonNode summary, List<JsonNode> epochs, JsonNode eval) {
    List<String> parts = new ArrayList<>();
    if (summary != null) {
      parts.add(
          String.format(
              Locale.ROOT,
              "finished: test accuracy %.4f, %d epochs, %d steps, %.1f s",
              summary.path("test_accuracy").asDouble(Double.NaN),
              summary.path("epochs").asInt(),
              summary.path("steps").asLong(),
              summary.path("wall_seconds").asDouble(Double.NaN)));
    } else if (!epochs.isEmpty()) {
      JsonNode last = epochs.get(epochs.size() - 1);
      parts.add(
          String.format(
              Locale.ROOT,
              "in progress: epoch %d done, test accuracy %.4f",
              last.path("epoch").asInt(),
              last.path("test_accuracy").asDouble(Double.NaN)));
    } else {
      parts.add("in progress");
    }
    if (eval != null) {
      parts.add(
          eval.has("accuracy")
              ? String.format(
                  Locale.ROOT,
                  "evaluated: accuracy %.4f on %d examples",
                  eval.path("accuracy").asDouble(),
                  eval.path("examples").asLong())
              : String.format(
                  Locale.ROOT,
                  "evaluated: RMSE %.4g on %d examples",
                  eval.path("rmse").asDouble(),
                  eval.path("examples").asLong()));
    }
    return String.join(" · ", parts);
  }

  // ---- charts ----

  /** A named line of (x, y) points. */
  record Series(String name, double[] x, double[] y) {}

  static Series series(String name, List<JsonNode> rows, String xKey, String yKey) {
    List<double[]> pts = new ArrayList<>();
    for (JsonNode r : rows) {
      double x = r.path(xKey).asDouble(Double.NaN);
      double y = r.path(yKey).asDouble(Double.NaN);
      if (Double.isFinite(x) && Double.isFinite(y)) {
        pts.add(new double[] {x, y});
      }
    }
    double[] xs = new double[pts.size()];
    double[] ys = new double[pts.size()];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = pts.get(i)[0];
      ys[i] = pts.get(i)[1];
    }
    return new Series(name, xs, ys);
  }

  /** Up to ~6 round tick values covering [lo, hi]. */
  static double[] ticks(double lo, double hi) {
    double span = hi - lo;
    double raw = span / 5;
    double mag = Math.pow(10, Math.floor(Math.log10(raw)));
    double step = mag;
    for (double m : new double[] {1, 2, 2.5, 5, 10}) {
      if (m * mag >= raw) {
        step = m * mag;
        break;
      }
    }
    double first = Math.ceil(lo / step - 1e-9) * step;
    List<Double> out = new ArrayList<>();
    for (double t = first; t <= hi + step * 1e-9; t += step) {
      out.add(Math.abs(t) < step * 1e-9 ? 0.0 : t);
    }
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }

  static String tickLabel(double v, double step) {
    if (step < 1e-3 || Math.abs(v) >= 1e7) {
      if (v == 0) {
        return "0";
      }
      String[] parts = String.format(Locale.ROOT, "%.2e", v).split("e");
      String mantissa = parts[0].replaceAll("0+$", "").replaceAll("\\.$", "");
      return mantissa + "e" + parts[1];
    }
    int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step) + 1e-9));
    return String.format(Locale.ROOT, "%,." + Math.min(decimals, 6) + "f", v);
  }

  /** An SVG line chart with gridlines, tick labels, axis titles and a legend. */
  static String chart(String name, String xLabel, String yLabel, List<Series> series) {
    int w = 520;
    int h = 300;
    int left = 72;
    int right = 16;
    int top = series.size() > 1 ? 50 : 34; // room for the legend above the plot
    int bottom = 52;
    double minX = Double.POSITIVE_INFINITY;
    double maxX = Double.NEGATIVE_INFINITY;
    double minY = Double.POSITIVE_INFINITY;
    double maxY = Double.NEGATIVE_INFINITY;
    for (Series s : series) {
      for (int i = 0; i < s.x().length; i++) {
        minX = Math.min(minX, s.x()[i]);
        maxX = Math.max(maxX, s.x()[i]);
        minY = Math.min(minY, s.y()[i]);
        maxY = Math.max(maxY, s.y()[i]);
      }
    }
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "<figure><svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d"
                + " %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">"
                + "<title>%s</title><text class=\"ct\" x=\"%d\" y=\"20\">%s</text>",
            w,
            h,
            w,
            h,
            escape(name),
            escape(name),
            left,
            escape(name)));
    if (!Double.isFinite(minX)) {
      return sb.append("<text x=\"72\" y=\"150\">no data yet</text></svg></figure>").toString();
    }
    if (maxX == minX) {
      minX -= 0.5;
      maxX += 0.5;
    }
    if (maxY == minY) {
      double pad = Math.max(Math.abs(minY) * 0.05, 1e-6);
      minY -= pad;
      maxY += pad;
    } else {
      double pad = (maxY - minY) * 0.05;
      minY = minY >= 0 && minY - pad < 0 ? 0 : minY - pad;
      maxY += pad;
    }
    double x0 = minX;
    double y0 = minY;
    double sx = (w - left - right) / (maxX - minX);
    double sy = (h - top - bottom) / (maxY - minY);
    int plotBottom = h - bottom;
    double[] yt = ticks(minY, maxY);
    double yStep = yt.length > 1 ? yt[1] - yt[0] : Math.max(1e-9, maxY - minY);
    for (double t : yt) {
      double py = plotBottom - (t - y0) * sy;
      sb.append(
          String.format(
              Locale.ROOT,
              "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                  + "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
              left,
              py,
              w - right,
              py,
              left - 6,
              py + 4,
              tickLabel(t, yStep)));
    }
    double[] xt = ticks(minX, maxX);
    double xStep = xt.length > 1 ? xt[1] - xt[0] : 1;
    for (double t : xt) {
      double px = left + (t - x0) * sx;
      sb.append(
          String.format(
              Locale.ROOT,
              "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                  + "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
              px,
              top,
              px,
              plotBottom,
              px,
              plotBottom + 16,
              tickLabel(t, xStep)));
    }
    sb.append(
        String.format(
            Locale.ROOT,
            "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
                + "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
                + "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>"
                + "<text class=\"label\" transform=\"translate(16 %d) rotate(-90)\""
                + " text-anchor=\"middle\">%s</text>",
            left,
            plotBottom,
            w - right,
            plotBottom,
            left,
            top,
            left,
            plotBottom,
            (left + w - right) / 2,
            h - 12,
            escape(xLabel),
            (top + plotBottom) / 2,
            escape(yLabel)));
    int legendX = left;
    for (int k = 0; k < series.size(); k++) {
      Series s = series.get(k);
      String color = PALETTE[k % PALETTE.length];
      StringBuilder pts = new StringBuilder();
      StringBuilder data = new StringBuilder();
      for (int i = 0; i < s.x().length; i++) {
        double px = left + (s.x()[i] - x0) * sx;
        double py = plotBottom - (s.y()[i] - y0) * sy;
        pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
        data.append(
            String.format(Locale.ROOT, "%.1f,%.1f,%s,%s;", px, py, num(s.x()[i]), num(s.y()[i])));
      }
      if (s.x().length == 1) {
        sb.append(
            String.format(
                Locale.ROOT,
                "<circle cx=\"%s\" cy=\"%s\" r=\"3\" fill=\"%s\"/>",
                pts.toString().trim().split(",")[0],
                pts.toString().trim().split(",")[1],
                color));
      }
      sb.append("<polyline class=\"line\" fill=\"none\" stroke=\"")
          .append(color)
          .append("\" data-name=\"")
          .append(escape(s.name()))
          .append("\" data-points=\"")
          .append(data)
          .append("\" points=\"")
          .append(pts.toString().trim())
          .append("\"/>");
      if (series.size() > 1) {
        int ly = top - 12;
        sb.append(
            String.format(
                Locale.ROOT,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                    + "<text class=\"legend\" x=\"%d\" y=\"%d\">%s</text>",
                legendX,
                ly - 4,
                legendX + 18,
                ly - 4,
                color,
                legendX + 24,
                ly,
                escape(s.name())));
        legendX += 34 + 6 * s.name().length();
      }
    }
    sb.append("<text class=\"readout\" x=\"")
        .append(w - right)
        .append("\" y=\"20\" text-anchor=\"end\"></text>");
    return sb.append("</svg></figure>").toString();
  }

  private static String num(double v) {
    return String.format(Locale.ROOT, "%.6g", v);
  }

  // ---- evaluation ----

  static String evaluationSection(JsonNode eval) {
    if (eval == null) {
      return "<section><h2>Evaluation</h2><p class=\"note\">No evaluation yet: run <code>spindle"
          + " evaluate --model RUN_DIR</code> to add the confusion matrix and per-class"
          + " table.</p></section>";
    }
    StringBuilder sb = new StringBuilder("<section><h2>Evaluation</h2>");
    sb.append("<table class=\"facts\"><tbody>");
    for (String key :
        List.of(
            "model",
            "data",
            "examples",
            "accuracy",
            "loss",
            "top5_accuracy",
            "macro_precision",
            "macro_recall",
            "macro_f1",
            "rmse",
            "mae",
            "r2",
            "seconds")) {
      if (eval.has(key)) {
        sb.append("<tr><th>")
            .append(escape(key.replace('_', ' ')))
            .append("</th><td>")
            .append(escape(format(eval.get(key))))
            .append("</td></tr>");
      }
    }
    sb.append("</tbody></table>");
    JsonNode matrix = eval.get("confusion_matrix");
    if (matrix != null && matrix.isArray()) {
      sb.append(confusionMatrix(matrix));
    }
    JsonNode perClass = eval.get("per_class");
    if (perClass != null && perClass.isArray()) {
      sb.append("<h3>Per class</h3><table><thead><tr><th>class</th><th>precision</th>")
          .append("<th>recall</th><th>F1</th><th>support</th></tr></thead><tbody>");
      for (JsonNode c : perClass) {
        sb.append(
            String.format(
                Locale.ROOT,
                "<tr><td>%d</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%,d</td></tr>",
                c.path("class").asInt(),
                c.path("precision").asDouble(),
                c.path("recall").asDouble(),
                c.path("f1").asDouble(),
                c.path("support").asLong()));
      }
      sb.append("</tbody></table>");
    }
    return sb.append("</section>").toString();
  }

  /** The confusion matrix as a heat map: rows the true class, columns the predicted one. */
  static String confusionMatrix(JsonNode matrix) {
    int k = matrix.size();
    int cell = k <= 10 ? 40 : k <= 30 ? 18 : 8;
    int left = 64;
    int top = 56;
    int size = cell * k;
    int w = left + size + 20;
    int h = top + size + 20;
    long[] rowSum = new long[k];
    for (int i = 0; i < k; i++) {
      for (int j = 0; j < k; j++) {
        rowSum[i] += matrix.get(i).get(j).asLong();
      }
    }
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "<h3>Confusion matrix</h3><figure><svg class=\"cm\""
                + " xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\""
                + " height=\"%d\" role=\"img\" aria-label=\"confusion matrix\"><title>Confusion"
                + " matrix: rows true class, columns predicted class; shade = share of the"
                + " row</title>",
            w,
            h,
            w,
            h));
    sb.append(
        String.format(
            Locale.ROOT,
            "<text class=\"label\" x=\"%d\" y=\"16\" text-anchor=\"middle\">predicted class</text>"
                + "<text class=\"label\" transform=\"translate(14 %d) rotate(-90)\""
                + " text-anchor=\"middle\">true class</text>",
            left + size / 2,
            top + size / 2));
    for (int j = 0; j < k && cell >= 18; j++) {
      sb.append(
          String.format(
              Locale.ROOT,
              "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>",
              left + j * cell + cell / 2,
              top - 8,
              j));
    }
    for (int i = 0; i < k; i++) {
      if (cell >= 18) {
        sb.append(
            String.format(
                Locale.ROOT,
                "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%d</text>",
                left - 6,
                top + i * cell + cell / 2 + 4,
                i));
      }
      for (int j = 0; j < k; j++) {
        long c = matrix.get(i).get(j).asLong();
        double share = rowSum[i] == 0 ? 0 : (double) c / rowSum[i];
        String fill =
            i == j
                ? String.format(Locale.ROOT, "rgba(31,119,180,%.3f)", 0.08 + 0.92 * share)
                : String.format(
                    Locale.ROOT, "rgba(214,39,40,%.3f)", c == 0 ? 0.0 : 0.1 + 0.9 * share);
        sb.append(
            String.format(
                Locale.ROOT,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\""
                    + " stroke=\"#ddd\"><title>true %d, predicted %d: %,d (%.1f%% of class"
                    + " %d)</title></rect>",
                left + j * cell,
                top + i * cell,
                cell,
                cell,
                fill,
                i,
                j,
                c,
                100 * share,
                i));
        if (cell >= 40 && c > 0) {
          sb.append(
              String.format(
                  Locale.ROOT,
                  "<text class=\"cell\" x=\"%d\" y=\"%d\" text-anchor=\"middle\"%s>%d</text>",
                  left + j * cell + cell / 2,
                  top + i * cell + cell / 2 + 4,
                  i == j && share > 0.5 ? " fill=\"#fff\"" : "",
                  c));
        }
      }
    }
    return sb.append("</svg></figure>").toString();
  }

  // ---- facts ----

  static String factsSection(Path dir, JsonNode summary) {
    Map<String, String> facts = new LinkedHashMap<>();
    if (summary != null) {
      for (Iterator<Map.Entry<String, JsonNode>> it = summary.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        facts.put(e.getKey(), format(e.getValue()));
      }
    } else {
      facts.put("status", "running (summary.json is written when the run ends)");
    }
    Path checkpoints = dir.resolve("checkpoints");
    if (Files.isDirectory(checkpoints)) {
      try (Stream<Path> list = Files.list(checkpoints)) {
        List<String> names =
            list.map(p -> p.getFileName().toString())
                .filter(n -> n.startsWith("step-"))
                .sorted()
                .toList();
        facts.put(
            "checkpoints in " + dir.relativize(checkpoints),
            names.isEmpty()
                ? "none"
                : names.size() + " (newest " + names.get(names.size() - 1) + ")");
      } catch (IOException e) {
        facts.put("checkpoints", "cannot list: " + e.getMessage());
      }
    }
    StringBuilder sb = new StringBuilder("<section><h2>Run facts</h2><table class=\"facts\">");
    sb.append("<tbody>");
    facts.forEach(
        (k, v) ->
            sb.append("<tr><th>")
                .append(escape(k.replace('_', ' ')))
                .append("</th><td>")
                .append(escape(v))
                .append("</td></tr>"));
    sb.append("</tbody></table>");
    List<String> config = readLines(dir.resolve("config.yaml"));
    if (!config.isEmpty()) {
      sb.append("<details><summary>Config (config.yaml)</summary><pre>")
          .append(escape(String.join("\n", config)))
          .append("</pre></details>");
    }
    return sb.append("</section>").toString();
  }

  static String format(JsonNode v) {
    if (v.isIntegralNumber()) {
      return String.format(Locale.ROOT, "%,d", v.asLong());
    }
    if (v.isNumber()) {
      double d = v.asDouble();
      return Math.abs(d) >= 1000
          ? String.format(Locale.ROOT, "%,.1f", d)
          : String.format(Locale.ROOT, "%.4g", d);
    }
    return v.isValueNode() ? v.asText() : v.toString();
  }

  // ---- files ----

  private static List<String> readLines(Path file) {
    if (!Files.isRegularFile(file)) {
      return List.of();
    }
    try {
      return Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return List.of();
    }
  }

  private static JsonNode parse(String line) {
    if (line.isBlank()) {
      return null;
    }
    try {
      return JSON.readTree(line);
    } catch (IOException e) {
      return null; // a line being written
    }
  }

  private static JsonNode readJson(Path file) {
    if (!Files.isRegularFile(file)) {
      return null;
    }
    try (InputStream in = Files.newInputStream(file)) {
      return JSON.readTree(in);
    } catch (IOException e) {
      return null;
    }
  }

  private static void write(Path file, String html) {
    Path tmp = file.resolveSibling(".report.html.tmp");
    try {
      Files.writeString(tmp, html, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e, e);
    }
  }

  static String escape(String s) {
    return s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;");
  }

  private static final String CSS =
      "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;"
          + "max-width:1120px;padding:1.5em 2em;color:#222;background:#fff}"
          + "h1{margin:0 0 .2em;font-size:1.6em}h2{border-bottom:1px solid #ddd;"
          + "padding-bottom:.2em;margin-top:1.6em}.sub{color:#555;margin:0}"
          + ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:.5em}"
          + "figure{margin:0}svg{max-width:100%;height:auto;background:#fff}"
          + ".ct{font-size:14px;font-weight:600}.tick{font-size:11px;fill:#555}"
          + ".label{font-size:12px;fill:#333}.legend{font-size:11px;fill:#333}"
          + ".readout{font-size:11px;fill:#333}.cell{font-size:11px}"
          + "line.grid{stroke:#e5e5e5;stroke-width:1}line.axis{stroke:#333}"
          + "polyline.line{stroke-width:1.8}"
          + "table{border-collapse:collapse;margin:.5em 0}td,th{padding:3px 10px;"
          + "border-bottom:1px solid #eee;text-align:right}th{background:#f6f6f6}"
          + "table.facts th{text-align:left;font-weight:500}table.facts td{text-align:left}"
          + ".note{color:#666;font-size:.9em}pre{background:#f6f6f6;padding:.8em;overflow:auto}"
          + "footer{margin-top:2em;color:#888;font-size:.8em}";

  /** Shows the nearest point's values when the pointer is over a chart. */
  private static final String SCRIPT =
      "(function(){"
          + "document.querySelectorAll('svg.chart').forEach(function(svg){"
          + "var out=svg.querySelector('.readout');"
          + "var lines=[].slice.call(svg.querySelectorAll('polyline[data-points]')).map("
          + "function(l){return{name:l.getAttribute('data-name'),pts:l.getAttribute('data-points')"
          + ".split(';').filter(Boolean).map(function(s){return s.split(',');})};});"
          + "svg.addEventListener('mousemove',function(ev){"
          + "var r=svg.getBoundingClientRect();var vb=svg.viewBox.baseVal;"
          + "var x=(ev.clientX-r.left)*vb.width/r.width,y=(ev.clientY-r.top)*vb.height/r.height;"
          + "var best=null,bd=1e9;lines.forEach(function(l){l.pts.forEach(function(p){"
          + "var d=Math.hypot(p[0]-x,p[1]-y);if(d<bd){bd=d;best=[l.name,p[2],p[3]];}});});"
          + "out.textContent=best&&bd<40?best[0]+': step '+best[1]+', '+best[2]:'';});"
          + "svg.addEventListener('mouseleave',function(){out.textContent='';});});"
          + "document.documentElement.setAttribute('data-report-ready','1');"
          + "})();";
}
