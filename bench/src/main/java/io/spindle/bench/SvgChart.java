package io.spindle.bench;

import io.spindle.bench.BenchChart.Line;
import io.spindle.bench.BenchChart.LinePanel;
import java.util.List;
import java.util.Locale;

/**
 * The same log-log line panels as {@link BenchChart#linePanels}, as SVG text: a chart that a
 * markdown page (README, docs/network.md) shows inline and that diffs as text. x ticks at the
 * panel's values, y ticks at 1-2-5 steps, a legend below each panel.
 */
final class SvgChart {
  static final String[] COLOURS = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#7f7f7f"
  };
  private static final int PANEL_W = 520;
  private static final int PLOT_H = 300;
  private static final int LEFT = 70;
  private static final int RIGHT = 20;
  private static final int TOP = 40;
  private static final int LEGEND_LINE = 18;

  private SvgChart() {}

  static String linePanels(List<LinePanel> panels) {
    int legend = panels.stream().mapToInt(p -> p.lines().size()).max().orElse(0);
    int height = TOP + PLOT_H + 50 + legend * LEGEND_LINE + 10;
    int width = PANEL_W * panels.size();
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d"
                + " %d\" font-family=\"sans-serif\" font-size=\"12\">%n",
            width,
            height,
            width,
            height));
    sb.append(
        String.format(
            Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height));
    for (int i = 0; i < panels.size(); i++) {
      panel(sb, panels.get(i), i * PANEL_W);
    }
    sb.append("</svg>\n");
    return sb.toString();
  }

  private static void panel(StringBuilder sb, LinePanel p, int x0) {
    double xMin = Double.POSITIVE_INFINITY;
    double xMax = 0;
    double yMin = Double.POSITIVE_INFINITY;
    double yMax = 0;
    for (Line l : p.lines()) {
      for (int i = 0; i < l.x().length; i++) {
        if (l.x()[i] > 0 && l.y()[i] > 0) {
          xMin = Math.min(xMin, l.x()[i]);
          xMax = Math.max(xMax, l.x()[i]);
          yMin = Math.min(yMin, l.y()[i]);
          yMax = Math.max(yMax, l.y()[i]);
        }
      }
    }
    if (xMax <= 0 || yMax <= 0) {
      throw new IllegalArgumentException("panel '" + p.title() + "' has no positive point");
    }
    double lyMin = Math.floor(Math.log10(yMin));
    double lyMax = Math.ceil(Math.log10(yMax));
    double lxMin = Math.log10(xMin);
    double lxMax = Math.max(Math.log10(xMax), lxMin + 1e-9);
    double plotW = PANEL_W - LEFT - RIGHT;
    Scale s = new Scale(x0 + LEFT, plotW, lxMin, lxMax, lyMin, lyMax);
    sb.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">%s</text>%n",
            x0 + LEFT + plotW / 2,
            escape(p.title())));
    sb.append(
        String.format(
            Locale.ROOT,
            "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>%n",
            x0 + LEFT,
            TOP,
            plotW,
            PLOT_H));
    for (double decade = lyMin; decade <= lyMax; decade++) {
      for (int m : new int[] {1, 2, 5}) {
        double v = m * Math.pow(10, decade);
        if (Math.log10(v) > lyMax + 1e-9) {
          continue;
        }
        double y = s.y(v);
        sb.append(
            String.format(
                Locale.ROOT,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n",
                x0 + LEFT,
                y,
                x0 + LEFT + plotW,
                y,
                x0 + LEFT - 6,
                y + 4,
                label(v)));
      }
    }
    for (double t : p.xTicks()) {
      double x = s.x(t);
      sb.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                  + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
              x,
              TOP,
              x,
              TOP + PLOT_H,
              x,
              TOP + PLOT_H + 16,
              label(t)));
    }
    sb.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n"
                + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %d"
                + " %.1f)\">%s</text>%n",
            x0 + LEFT + plotW / 2,
            TOP + PLOT_H + 34,
            escape(p.xLabel()),
            x0 + 16,
            TOP + PLOT_H / 2.0,
            x0 + 16,
            TOP + PLOT_H / 2.0,
            escape(p.yLabel())));
    for (int i = 0; i < p.lines().size(); i++) {
      Line l = p.lines().get(i);
      String colour = COLOURS[i % COLOURS.length];
      StringBuilder points = new StringBuilder();
      for (int j = 0; j < l.x().length; j++) {
        if (l.x()[j] > 0 && l.y()[j] > 0) {
          points.append(String.format(Locale.ROOT, "%.1f,%.1f ", s.x(l.x()[j]), s.y(l.y()[j])));
        }
      }
      String dash = l.dashed() ? " stroke-dasharray=\"6 4\"" : "";
      sb.append(
          String.format(
              Locale.ROOT,
              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%s\"/>%n",
              colour,
              dash,
              points.toString().trim()));
      int ly = TOP + PLOT_H + 52 + i * LEGEND_LINE;
      sb.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>"
                  + "<text x=\"%d\" y=\"%d\">%s</text>%n",
              x0 + LEFT,
              ly - 4,
              x0 + LEFT + 30,
              ly - 4,
              colour,
              dash,
              x0 + LEFT + 38,
              ly,
              escape(l.label())));
    }
  }

  private record Scale(
      double left, double width, double lxMin, double lxMax, double lyMin, double lyMax) {
    double x(double v) {
      return left + width * (Math.log10(v) - lxMin) / (lxMax - lxMin);
    }

    double y(double v) {
      return TOP + PLOT_H * (lyMax - Math.log10(v)) / (lyMax - lyMin);
    }
  }

  static String label(double v) {
    if (v >= 1e6) {
      return trim(v / 1e6) + "M";
    }
    if (v >= 1e3) {
      return trim(v / 1e3) + "k";
    }
    return trim(v);
  }

  private static String trim(double v) {
    return String.format(Locale.ROOT, "%.2f", v).replaceAll("\\.?0+$", "");
  }

  static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
