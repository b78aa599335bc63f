package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.driver.cli.ExitCode;
import io.spindle.model.ModelFactory;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** data-bench refuses bad options before starting Spark, naming the option and the value. */
class DataBenchCliTest {

  private static String[] run(Path out, String... args) {
    String[] all = new String[args.length + 3];
    all[0] = "data-bench";
    System.arraycopy(args, 0, all, 1, args.length);
    all[args.length + 1] = "--output";
    all[args.length + 2] = out.toString();
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    int code =
        BenchCli.run(
            all,
            new PrintStream(o, true, StandardCharsets.UTF_8),
            new PrintStream(e, true, StandardCharsets.UTF_8));
    return new String[] {Integer.toString(code), e.toString(StandardCharsets.UTF_8)};
  }

  @Test
  void badOptionsAreConfigErrorsNamingTheValue(@TempDir Path tmp) {
    String[][] cases = {
      {"--cnn", "conv3x3x32,poolx"},
      {"--cnn", "conv3x5x32"},
      {"--cnn", "conv4x4x8"},
      {"--training-rate", "fast"},
      {"--cnn-rate", "-3"},
      {"--epochs", "1"},
      {"--cnn-batch", "0"},
      {"--cifar-records", "many"},
      {"--frames", "3"},
    };
    String[] expected = {
      "--cnn layer 'poolx' is not one of conv<K>x<K>x<C> (K odd), pool<S>, dense<N>",
      "--cnn layer 'conv3x5x32' is not one of",
      "--cnn layer 'conv4x4x8' is not one of",
      "--training-rate must be a positive number of samples/s, got 'fast'",
      "--cnn-rate must be a positive number of samples/s, got '-3'",
      "expected --epochs >= 2 and positive --cifar-records, --training-epochs, --cnn-steps; got 1,",
      "--cnn-batch must be a positive integer, got '0'",
      "--cifar-records must be a positive integer, got 'many'",
      "unknown option '--frames' for data-bench",
    };
    for (int i = 0; i < cases.length; i++) {
      String[] r = run(tmp.resolve("out" + i), cases[i]);
      assertEquals(ExitCode.BAD_CONFIG.code(), Integer.parseInt(r[0]), r[1]);
      assertTrue(r[1].contains(expected[i]), "expected '" + expected[i] + "' in: " + r[1]);
      assertFalse(Files.exists(tmp.resolve("out" + i)), "nothing written for case " + i);
    }
  }

  @Test
  void theDefaultCnnIsTheStatedShapeOnCifarInput() {
    CnnSpec spec = CnnSpec.parse(CnnSpec.DEFAULT, 4);
    var net = ModelFactory.create(spec.model(), 3072, 1);
    // conv 3x3x32 (3->32), conv 3x3x32, pool, conv 3x3x64, pool, dense 256 on 8x8x64, output 10
    long expected =
        (3 * 3 * 3 * 32 + 32)
            + (3 * 3 * 32 * 32 + 32)
            + (3 * 3 * 32 * 64 + 64)
            + (8 * 8 * 64 * 256 + 256)
            + (256 * 10 + 10);
    assertEquals(expected, net.numParams());
    assertEquals(7, net.getnLayers());
  }

  @Test
  void theCnnTrainsThroughSpindlesStepAtAFiniteRate() {
    double rate = CnnSpec.parse("conv3x3x4,pool4,dense8", 8).stepRate(1, 2);
    assertTrue(Double.isFinite(rate) && rate > 0, "samples/s " + rate);
  }
}
