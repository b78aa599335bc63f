package io.spindle.bench;

import io.spindle.bench.BenchMetrics.EpochPoint;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Stroke;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * bench.png, drawn with Java2D (headless): samples/s per system as bars on the left, test accuracy
 * against training seconds (one line per system, one point per epoch) on the right. {@link
 * #linePanels} draws log-log line charts (scaling.png, from {@link ScalingCli}).
 */
final class BenchChart {
  static final int WIDTH = 1400;
  static final int HEIGHT = 620;
  private static final Color[] PALETTE = {
    new Color(0x1f77b4),
    new Color(0xff7f0e),
    new Color(0x2ca02c),
    new Color(0xd62728),
    new Color(0x9467bd),
    new Color(0x8c564b),
    new Color(0xe377c2),
    new Color(0x17becf),
  };

  private BenchChart() {}

  static byte[] png(List<SystemRun> runs, double target) {
    System.setProperty("java.awt.headless", "true");
    BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, WIDTH, HEIGHT);
      bars(g, runs, 20, 20, 640, HEIGHT - 40);
      accuracy(g, runs, target, 700, 20, 680, HEIGHT - 40);
    } finally {
      g.dispose();
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(img, "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static void bars(Graphics2D g, List<SystemRun> runs, int x, int y, int w, int h) {
    title(g, "Training throughput (samples/s, higher is better)", x, y, w);
    int labelW = 250;
    int top = y + 40;
    int plotW = w - labelW - 80;
    double max = runs.stream().mapToDouble(SystemRun::samplesPerSecond).max().orElse(1);
    max = niceCeiling(max);
    int rowH = Math.min(56, (h - 80) / Math.max(1, runs.size()));
    int plotH = rowH * runs.size();
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    FontMetrics fm = g.getFontMetrics();
    for (int t = 0; t <= 4; t++) {
      int gx = x + labelW + (int) (plotW * t / 4.0);
      g.setColor(new Color(0xdddddd));
      g.drawLine(gx, top, gx, top + plotH);
      g.setColor(Color.DARK_GRAY);
      String s = tick(max * t / 4);
      g.drawString(s, gx - fm.stringWidth(s) / 2, top + plotH + 16);
    }
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
    fm = g.getFontMetrics();
    for (int i = 0; i < runs.size(); i++) {
      SystemRun r = runs.get(i);
      int by = top + i * rowH;
      int bw = (int) (plotW * r.samplesPerSecond() / max);
      g.setColor(PALETTE[i % PALETTE.length]);
      g.fillRect(x + labelW, by + 6, Math.max(1, bw), rowH - 12);
      g.setColor(Color.BLACK);
      String label = r.system() + " (" + r.workers() + "x" + r.threadsPerWorker() + ")";
      g.drawString(label, x + labelW - 8 - fm.stringWidth(label), by + rowH / 2 + 5);
      g.drawString(
          String.format(Locale.ROOT, "%,.0f", r.samplesPerSecond()),
          x + labelW + bw + 6,
          by + rowH / 2 + 5);
    }
    g.setColor(Color.BLACK);
    g.drawLine(x + labelW, top, x + labelW, top + plotH);
  }

  private static void accuracy(
      Graphics2D g, List<SystemRun> runs, double target, int x, int y, int w, int h) {
    title(g, "Test accuracy vs training seconds (one point per epoch)", x, y, w);
    int left = x + 60;
    int top = y + 40;
    int plotW = w - 80;
    int plotH = h - 200;
    double maxT = 0;
    double minA = target;
    for (SystemRun r : runs) {
      for (EpochPoint p : r.epochs()) {
        maxT = Math.max(maxT, p.trainSeconds());
        minA = Math.min(minA, p.testAccuracy());
      }
    }
    maxT = niceCeiling(Math.max(maxT, 1e-3));
    double lo = Math.max(0, Math.floor((minA - 0.005) * 100) / 100);
    double hi = 1.0;
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    FontMetrics fm = g.getFontMetrics();
    for (int t = 0; t <= 4; t++) {
      int gx = left + (int) (plotW * t / 4.0);
      int gy = top + plotH - (int) (plotH * t / 4.0);
      g.setColor(new Color(0xdddddd));
      g.drawLine(gx, top, gx, top + plotH);
      g.drawLine(left, gy, left + plotW, gy);
      g.setColor(Color.DARK_GRAY);
      String sx = tick(maxT * t / 4) + " s";
      g.drawString(sx, gx - fm.stringWidth(sx) / 2, top + plotH + 16);
      String sy =
          new java.math.BigDecimal(String.format(Locale.ROOT, "%.4f", lo + (hi - lo) * t / 4))
              .stripTrailingZeros()
              .toPlainString();
      g.drawString(sy, left - 6 - fm.stringWidth(sy), gy + 4);
    }
    Stroke plain = g.getStroke();
    int ty = top + plotH - (int) (plotH * (target - lo) / (hi - lo));
    g.setColor(Color.GRAY);
    g.setStroke(
        new BasicStroke(
            1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {6, 4}, 0));
    g.drawLine(left, ty, left + plotW, ty);
    g.drawString(String.format(Locale.ROOT, "target %.3f", target), left + plotW - 90, ty - 4);
    g.setStroke(new BasicStroke(2.2f));
    for (int i = 0; i < runs.size(); i++) {
      g.setColor(PALETTE[i % PALETTE.length]);
      int px = left;
      int py = -1;
      for (EpochPoint p : runs.get(i).epochs()) {
        int cx = left + (int) (plotW * p.trainSeconds() / maxT);
        int cy = top + plotH - (int) (plotH * (p.testAccuracy() - lo) / (hi - lo));
        if (py >= 0) {
          g.drawLine(px, py, cx, cy);
        }
        g.fillOval(cx - 4, cy - 4, 9, 9);
        px = cx;
        py = cy;
      }
    }
    g.setStroke(plain);
    g.setColor(Color.BLACK);
    g.drawRect(left, top, plotW, plotH);
    // legend below the plot, two columns
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    int ly = top + plotH + 40;
    for (int i = 0; i < runs.size(); i++) {
      int lx = left + (i % 2) * (plotW / 2);
      int row = ly + (i / 2) * 20;
      g.setColor(PALETTE[i % PALETTE.length]);
      g.fillRect(lx, row - 10, 14, 10);
      g.setColor(Color.BLACK);
      g.drawString(runs.get(i).system(), lx + 20, row);
    }
  }

  /** One line of a {@link LinePanel}: points (x, y), drawn dashed or solid. */
  record Line(String label, double[] x, double[] y, boolean dashed) {}

  /** A line chart with logarithmic axes (x ticks at the given values, y at 1-2-5 steps). */
  record LinePanel(String title, String xLabel, String yLabel, double[] xTicks, List<Line> lines) {}

  /** Panels side by side, each a log-log line chart with a legend below (e.g. scaling.png). */
  static byte[] linePanels(List<LinePanel> panels) {
    System.setProperty("java.awt.headless", "true");
    int panelW = 700;
    BufferedImage img =
        new BufferedImage(panelW * panels.size(), HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, img.getWidth(), img.getHeight());
      for (int p = 0; p < panels.size(); p++) {
        linePanel(g, panels.get(p), p * panelW + 20, 20, panelW - 40, HEIGHT - 40);
      }
    } finally {
      g.dispose();
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(img, "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static void linePanel(Graphics2D g, LinePanel panel, int x, int y, int w, int h) {
    title(g, panel.title(), x, y, w);
    int left = x + 70;
    int top = y + 40;
    int plotW = w - 90;
    int plotH = h - 60 - 20 * ((panel.lines().size() + 1) / 2) - 40;
    double minX = Double.MAX_VALUE;
    double maxX = 0;
    double minY = Double.MAX_VALUE;
    double maxY = 0;
    for (Line l : panel.lines()) {
      for (int i = 0; i < l.x().length; i++) {
        minX = Math.min(minX, l.x()[i]);
        maxX = Math.max(maxX, l.x()[i]);
        minY = Math.min(minY, l.y()[i]);
        maxY = Math.max(maxY, l.y()[i]);
      }
    }
    double lx0 = Math.log(minX);
    double lx1 = Math.log(maxX);
    double ly0 = Math.log10(Math.pow(10, Math.floor(Math.log10(minY))));
    double ly1 = Math.log10(niceCeiling(maxY));
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    FontMetrics fm = g.getFontMetrics();
    for (double t : panel.xTicks()) {
      int gx = left + (int) (plotW * (Math.log(t) - lx0) / Math.max(1e-12, lx1 - lx0));
      g.setColor(new Color(0xdddddd));
      g.drawLine(gx, top, gx, top + plotH);
      g.setColor(Color.DARK_GRAY);
      String s = tick(t);
      g.drawString(s, gx - fm.stringWidth(s) / 2, top + plotH + 16);
    }
    for (double d = Math.pow(10, ly0); d <= Math.pow(10, ly1) * 1.0001; d *= 10) {
      for (double m : new double[] {1, 2, 5}) {
        double v = d * m;
        if (v > Math.pow(10, ly1) * 1.0001) {
          break;
        }
        int gy = top + plotH - (int) (plotH * (Math.log10(v) - ly0) / Math.max(1e-12, ly1 - ly0));
        g.setColor(new Color(m == 1 ? 0xcccccc : 0xeeeeee));
        g.drawLine(left, gy, left + plotW, gy);
        g.setColor(Color.DARK_GRAY);
        String s = tick(v);
        g.drawString(s, left - 6 - fm.stringWidth(s), gy + 4);
      }
    }
    g.drawString(
        panel.xLabel(), left + plotW / 2 - fm.stringWidth(panel.xLabel()) / 2, top + plotH + 34);
    g.drawString(panel.yLabel(), x, top - 8);
    Stroke plain = g.getStroke();
    Stroke dashed =
        new BasicStroke(
            2.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {8, 5}, 0);
    for (int i = 0; i < panel.lines().size(); i++) {
      Line l = panel.lines().get(i);
      g.setColor(PALETTE[i % PALETTE.length]);
      g.setStroke(l.dashed() ? dashed : new BasicStroke(2.2f));
      int px = -1;
      int py = -1;
      for (int j = 0; j < l.x().length; j++) {
        int cx = left + (int) (plotW * (Math.log(l.x()[j]) - lx0) / Math.max(1e-12, lx1 - lx0));
        int cy =
            top + plotH - (int) (plotH * (Math.log10(l.y()[j]) - ly0) / Math.max(1e-12, ly1 - ly0));
        if (px >= 0) {
          g.drawLine(px, py, cx, cy);
        }
        g.fillOval(cx - 3, cy - 3, 7, 7);
        px = cx;
        py = cy;
      }
    }
    g.setStroke(plain);
    g.setColor(Color.BLACK);
    g.drawRect(left, top, plotW, plotH);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    int ly = top + plotH + 60;
    for (int i = 0; i < panel.lines().size(); i++) {
      int lx = left + (i % 2) * (plotW / 2);
      int row = ly + (i / 2) * 20;
      g.setColor(PALETTE[i % PALETTE.length]);
      g.fillRect(lx, row - 10, 14, 10);
      g.setColor(Color.BLACK);
      g.drawString(panel.lines().get(i).label(), lx + 20, row);
    }
  }

  private static void title(Graphics2D g, String text, int x, int y, int w) {
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    g.drawString(text, x + 10, y + 18);
  }

  private static String tick(double v) {
    return String.format(Locale.ROOT, Math.abs(v - Math.rint(v)) < 1e-9 ? "%,.0f" : "%,.1f", v);
  }

  /** 1, 2 or 5 times a power of ten, at least {@code v}. */
  static double niceCeiling(double v) {
    double p = Math.pow(10, Math.floor(Math.log10(v)));
    for (double m : new double[] {1, 2, 2.5, 5, 10}) {
      if (m * p >= v) {
        return m * p;
      }
    }
    return 10 * p;
  }
}
