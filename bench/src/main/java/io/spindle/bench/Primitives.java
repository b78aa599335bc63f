package io.spindle.bench;

import io.spindle.bench.StepProfiler.Row;
import io.spindle.config.LayerType;
import io.spindle.config.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The single operations a dense layer's step is made of, each timed alone at the layer's shapes
 * with arrays laid out as DL4J lays them out (weights and outputs in column-major order): the three
 * matrix products (forward, weight gradient, input gradient), bias, ReLU, DL4J's dropout (mask of
 * ones, ND4J's inverted-dropout op, product; and its backward product) and the bias gradient. Their
 * sum against the layer's time in {@link StepProfiler} shows what DL4J adds around them.
 */
public final class Primitives {
  private Primitives() {}

  /**
   * Rows of group {@code primitive}, ms per call, for the dense and output layers of {@code model}.
   */
  public static List<Row> run(ModelConfig model, int numInputs, int batch, int reps) {
    List<Row> rows = new ArrayList<>();
    List<LayerShapes.Shape> shapes = LayerShapes.of(model, numInputs);
    for (int i = 0; i < shapes.size(); i++) {
      LayerShapes.Shape s = shapes.get(i);
      if (s.layer().type() != LayerType.DENSE && s.layer().type() != LayerType.OUTPUT) {
        continue;
      }
      String name = ProfileRows.layerName(i, s.layer());
      int nIn = (int) s.inSize();
      int nOut = (int) s.outSize();
      INDArray x = Nd4j.rand(DataType.FLOAT, batch, nIn);
      INDArray w = Nd4j.rand(DataType.FLOAT, new int[] {nIn, nOut}, 'f');
      INDArray b = Nd4j.rand(DataType.FLOAT, 1, nOut);
      INDArray z = Nd4j.create(DataType.FLOAT, new long[] {batch, nOut}, 'f');
      INDArray delta = Nd4j.rand(DataType.FLOAT, new int[] {batch, nOut}, 'f');
      INDArray dw = Nd4j.create(DataType.FLOAT, new long[] {nIn, nOut}, 'f');
      INDArray dx = Nd4j.create(DataType.FLOAT, new long[] {batch, nIn}, 'f');
      INDArray db = Nd4j.create(DataType.FLOAT, 1, nOut);
      rows.add(
          row(name, "forward", "gemm x W", () -> Nd4j.gemm(x, w, z, false, false, 1, 0), reps));
      rows.add(row(name, "forward", "bias add", () -> z.addiRowVector(b), reps));
      rows.add(row(name, "forward", "relu", () -> Transforms.relu(z, false), reps));
      rows.add(
          row(
              name,
              "backward",
              "gemm x^T delta",
              () -> Nd4j.gemm(x, delta, dw, true, false, 1, 0),
              reps));
      if (i > 0) {
        rows.add(
            row(
                name,
                "backward",
                "gemm delta W^T",
                () -> Nd4j.gemm(delta, w, dx, false, true, 1, 0),
                reps));
      }
      rows.add(row(name, "backward", "bias gradient", () -> delta.sum(db, 0), reps));
      double p = s.layer().dropout();
      if (p > 0) {
        Dropout d = new Dropout(1.0 - p);
        INDArray dropped = Nd4j.create(DataType.FLOAT, batch, nIn);
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        Row fwd =
            row(
                name,
                "forward",
                "dropout (DL4J)",
                () -> d.applyDropout(x, dropped, 0, 0, mgr),
                reps);
        rows.add(fwd);
        INDArray grad = Nd4j.rand(DataType.FLOAT, batch, nIn);
        INDArray gradIn = Nd4j.create(DataType.FLOAT, batch, nIn);
        // DL4J's backward consumes the mask of the forward before it: time both, subtract
        Row both =
            row(
                name,
                "backward",
                "dropout (DL4J)",
                () -> {
                  d.applyDropout(x, dropped, 0, 0, mgr);
                  d.backprop(grad, gradIn, 0, 0);
                },
                reps);
        rows.add(
            new Row(both.group(), both.part(), both.phase(), Math.max(0, both.ms() - fwd.ms())));
      }
    }
    return rows;
  }

  private static Row row(String layer, String phase, String op, Runnable r, int reps) {
    return new Row("primitive", layer + " | " + op, phase, bestMillis(r, reps));
  }

  /** Best mean over 5 rounds of {@code reps} calls, after a warm-up round. */
  static double bestMillis(Runnable r, int reps) {
    for (int i = 0; i < reps; i++) {
      r.run();
    }
    long best = Long.MAX_VALUE;
    for (int k = 0; k < 5; k++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < reps; i++) {
        r.run();
      }
      best = Math.min(best, System.nanoTime() - t0);
    }
    return best / 1e6 / reps;
  }
}
