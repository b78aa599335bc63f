package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The scaling command end to end: table, JSON and chart for the configured model. */
class ScalingCliTest {
  @Test
  void writesTableJsonAndChartForTheConfiguredModel(@TempDir Path tmp) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        ScalingCli.run(
            new String[] {
              "--set", "model.layers[0].units=50",
              "--set", "model.layers[1].units=40",
              "--workers", "2,4,8",
              "--rates", "100mbit,1gbit",
              "--schemes", "none,powersgd:2,topk:0.01",
              "--codec-seconds", "powersgd:2=0.002,topk:0.01=0.001",
              "--epochs-to-target", "none=3",
              "--output", tmp.toString()
            },
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
    JsonNode json = new ObjectMapper().readTree(tmp.resolve("scaling.json").toFile());
    // 784*50 + 50 + 50*40 + 40 + 40*10 + 10
    assertEquals(41_700, json.get("parameters").asInt());
    assertEquals(2 * 3 * 3, json.get("predictions").size());
    JsonNode first = json.get("predictions").get(0);
    assertEquals(2, first.get("workers").asInt());
    assertEquals(256, first.get("globalBatch").asInt(), "128 per worker by default");
    assertTrue(first.get("timeToTargetSeconds").asDouble() > 0);
    String table = Files.readString(tmp.resolve("scaling.txt"));
    assertTrue(table.contains("powersgd:2"), table);
    BufferedImage png = ImageIO.read(tmp.resolve("scaling.png").toFile());
    assertEquals(2 * 700, png.getWidth(), "one panel per rate");
    String svg = Files.readString(tmp.resolve("scaling.svg"));
    javax.xml.parsers.DocumentBuilderFactory.newInstance()
        .newDocumentBuilder()
        .parse(tmp.resolve("scaling.svg").toFile()); // well-formed XML
    // per panel: three schemes and the compute-only line, each a polyline of three points
    assertEquals(2 * 4, svg.split("<polyline").length - 1, svg);
    assertTrue(svg.contains("Predicted samples/s at 1Gbit"), svg);

    int bad =
        ScalingCli.run(
            new String[] {"--rates", "fast"},
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(2, bad);
    assertTrue(
        err.toString(StandardCharsets.UTF_8).contains("a rate looks like 100mbit or 10gbit"),
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void svgPanelsPutLargerValuesHigherOnLogAxes() {
    String svg =
        SvgChart.linePanels(
            java.util.List.of(
                new BenchChart.LinePanel(
                    "a <title>",
                    "N",
                    "samples/s",
                    new double[] {10, 100, 1000},
                    java.util.List.of(
                        new BenchChart.Line(
                            "rising",
                            new double[] {10, 100, 1000},
                            new double[] {1e2, 1e3, 1e4},
                            false)))));
    String points = svg.replaceAll("(?s).*points=\"([^\"]*)\".*", "$1");
    String[] p = points.split(" ");
    assertEquals(3, p.length, points);
    double[] x = new double[3];
    double[] y = new double[3];
    for (int i = 0; i < 3; i++) {
      x[i] = Double.parseDouble(p[i].split(",")[0]);
      y[i] = Double.parseDouble(p[i].split(",")[1]);
    }
    // equal ratios are equal distances (log axes); larger values are higher (smaller y)
    assertEquals(x[1] - x[0], x[2] - x[1], 0.2);
    assertEquals(y[0] - y[1], y[1] - y[2], 0.2);
    assertTrue(y[2] < y[1] && y[1] < y[0], points);
    assertTrue(svg.contains("a &lt;title&gt;"), "text is escaped");
    assertEquals("2.5k", SvgChart.label(2500));
  }
}
