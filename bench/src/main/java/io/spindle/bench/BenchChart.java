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
 * against training seconds (one line per system, one point per epoch) on the right.
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
