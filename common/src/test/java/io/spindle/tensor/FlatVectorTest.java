package io.spindle.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The bulk copies between Java arrays and ND4J buffers, including views and empty vectors. */
class FlatVectorTest {
  @Test
  void roundTripsFloatAndDouble() {
    float[] f = {1f, -2f, 3.5f};
    assertArrayEquals(f, FlatVector.of(f).toINDArray().toFloatVector());
    assertEquals(FlatVector.of(f), FlatVector.copyOf(FlatVector.of(f).toINDArray()));
    double[] d = {1, -2, 3.5};
    assertArrayEquals(d, FlatVector.of(d).toINDArray().toDoubleVector());
  }

  @Test
  void copiesIntoAndOutOfViewsAtTheirOffset() {
    INDArray whole = Nd4j.zeros(DataType.FLOAT, 10);
    INDArray view = whole.get(NDArrayIndex.interval(4, 8));
    FlatVector.copyInto(new float[] {9, 1, 2, 3, 4, 9}, 1, 4, view, 0);
    assertArrayEquals(new float[] {0, 0, 0, 0, 1, 2, 3, 4, 0, 0}, whole.toFloatVector());
    float[] out = new float[6];
    FlatVector.copyOut(view, out, 1);
    assertArrayEquals(new float[] {0, 1, 2, 3, 4, 0}, out);
    INDArray row = Nd4j.zeros(DataType.FLOAT, 1, 3);
    FlatVector.of(new float[] {5, 6, 7}).copyTo(row);
    assertArrayEquals(new float[] {5, 6, 7}, row.toFloatVector());
  }

  @Test
  void emptyVectorsCopyToNothing() {
    FlatVector empty = FlatVector.of(new float[0]);
    assertEquals(0, empty.length());
    assertEquals(0, empty.toINDArray().length());
    assertArrayEquals(new float[0], empty.toFloatArray());
    // copying zero values leaves every value of the target as it was, at any offset
    INDArray target = Nd4j.createFromArray(new float[] {1, 2, 3});
    FlatVector.copyInto(new float[0], 0, 0, target, 1);
    FlatVector.copyInto(new float[] {9, 9}, 2, 0, target, 3);
    assertArrayEquals(new float[] {1, 2, 3}, target.toFloatVector());
    float[] out = {4, 5};
    FlatVector.copyOut(Nd4j.zeros(DataType.FLOAT, 0), out, 1);
    assertArrayEquals(new float[] {4, 5}, out);
    // and an empty vector round-trips as empty
    assertEquals(empty, FlatVector.copyOf(empty.toINDArray()));
  }
}
