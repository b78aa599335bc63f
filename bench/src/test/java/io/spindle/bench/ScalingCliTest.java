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
}
