package io.spindle.driver.monitor;

import io.spindle.driver.GlobalModel;
import io.spindle.driver.RoundResult;
import io.spindle.driver.TrainingListener;
import io.spindle.driver.TrainingState;
import io.spindle.sync.Evaluation;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Writes {@code report.html} into the run's output directory after every epoch: a self-contained
 * page (inline SVG, no scripts, no external files) with the training loss and accuracy per round
 * and the test loss and accuracy per epoch. Written to a temporary name and renamed, like every
 * output file.
 */
public final class HtmlReport implements TrainingListener {
  private final Path file;
  private final String title;
  private final List<double[]> rounds = new ArrayList<>(); // global step, loss, accuracy
  private final List<double[]> epochs = new ArrayList<>(); // epoch, test loss, test accuracy

  public HtmlReport(Path outputDir, String title) {
    this.file = outputDir.resolve("report.html");
    this.title = title;
  }

  @Override
  public void onRound(TrainingState state, RoundResult round) {
    rounds.add(
        new double[] {
          state.globalStep(),
          round.meanLoss(),
          (double) round.correct() / Math.max(1, round.examples())
        });
  }

  @Override
  public void onEpochEnd(TrainingState state, Evaluation test) {
    epochs.add(new double[] {state.epoch() + 1, test.meanLoss(), test.accuracy()});
    write();
  }

  @Override
  public void onEnd(TrainingState state, GlobalModel model, Evaluation test) {
    write();
  }

  /** The page as written. */
  String html() {
    StringBuilder sb = new StringBuilder();
    sb.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>")
        .append(escape(title))
        .append(
            "</title><style>body{font-family:sans-serif;margin:2em}"
                + "svg{border:1px solid #ccc;margin:0 1em 1em 0}td,th{padding:2px 8px}</style>"
                + "</head><body><h1>")
        .append(escape(title))
        .append("</h1>");
    sb.append(chart("Training loss per round", rounds, 0, 1, "global step", "#1f77b4"));
    sb.append(chart("Training accuracy per round", rounds, 0, 2, "global step", "#2ca02c"));
    sb.append(chart("Test loss per epoch", epochs, 0, 1, "epoch", "#d62728"));
    sb.append(chart("Test accuracy per epoch", epochs, 0, 2, "epoch", "#9467bd"));
    sb.append("<table><tr><th>epoch</th><th>test loss</th><th>test accuracy</th></tr>");
    for (double[] e : epochs) {
      sb.append(
          String.format(
              Locale.ROOT,
              "<tr><td>%d</td><td>%.4f</td><td>%.4f</td></tr>",
              (int) e[0],
              e[1],
              e[2]));
    }
    sb.append("</table></body></html>\n");
    return sb.toString();
  }

  /** A line chart of column {@code y} against column {@code x} as inline SVG. */
  static String chart(String name, List<double[]> rows, int x, int y, String xLabel, String color) {
    int w = 480;
    int h = 260;
    int left = 60;
    int bottom = 40;
    int top = 30;
    int right = 15;
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">"
                + "<title>%s</title><text x=\"%d\" y=\"18\" font-size=\"14\">%s</text>",
            w,
            h,
            escape(name),
            left,
            escape(name)));
    List<double[]> pts = rows.stream().filter(r -> Double.isFinite(r[y])).toList();
    if (pts.isEmpty()) {
      return sb.append("<text x=\"60\" y=\"130\">no data yet</text></svg>").toString();
    }
    double minX = pts.stream().mapToDouble(r -> r[x]).min().orElse(0);
    double maxX = pts.stream().mapToDouble(r -> r[x]).max().orElse(1);
    double minY = pts.stream().mapToDouble(r -> r[y]).min().orElse(0);
    double maxY = pts.stream().mapToDouble(r -> r[y]).max().orElse(1);
    if (maxX == minX) {
      maxX = minX + 1;
    }
    if (maxY == minY) {
      maxY = minY + 1e-9 + Math.abs(minY) * 0.01;
    }
    double sx = (w - left - right) / (maxX - minX);
    double sy = (h - top - bottom) / (maxY - minY);
    StringBuilder path = new StringBuilder();
    for (double[] r : pts) {
      path.append(
          String.format(
              Locale.ROOT,
              "%.1f,%.1f ",
              left + (r[x] - minX) * sx,
              h - bottom - (r[y] - minY) * sy));
    }
    sb.append(
        String.format(
            Locale.ROOT,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>"
                + "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>",
            left,
            h - bottom,
            w - right,
            h - bottom,
            left,
            top,
            left,
            h - bottom));
    sb.append(
        String.format(
            Locale.ROOT,
            "<text x=\"5\" y=\"%d\" font-size=\"11\">%.4g</text>"
                + "<text x=\"5\" y=\"%d\" font-size=\"11\">%.4g</text>"
                + "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.0f</text>"
                + "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.0f</text>"
                + "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>",
            top + 4,
            maxY,
            h - bottom,
            minY,
            left,
            h - bottom + 15,
            minX,
            w - right,
            h - bottom + 15,
            maxX,
            (left + w - right) / 2,
            h - 8,
            escape(xLabel)));
    sb.append("<polyline fill=\"none\" stroke=\"")
        .append(color)
        .append("\" stroke-width=\"1.5\" points=\"")
        .append(path.toString().trim())
        .append("\"/></svg>");
    return sb.toString();
  }

  private void write() {
    Path tmp = file.resolveSibling(".report.html.tmp");
    try {
      Files.writeString(tmp, html(), StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e, e);
    }
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;");
  }
}
