package io.spindle.worker;

import io.spindle.data.DataFormatException;
import io.spindle.runtime.Nd4jRuntime;
import io.spindle.tensor.FlatVector;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Batch scoring inside an executor task: the partition's items are read in batches of {@code
 * batchSize}, each batch goes through the network in one forward pass, and every item comes out
 * paired with its output row.
 *
 * <p>Networks are built once per executor JVM from the broadcast {@link ScoringNetwork} and kept
 * for later partitions, stages and jobs, keyed by the model's id: a task borrows one and returns it
 * when its partition is done, so concurrent tasks of one executor never share a network while it is
 * in use (at most one per task slot is ever built; with one core per executor, one per JVM). The
 * networks of the {@link #MODELS} most recently used models are kept.
 */
public final class BatchScorer {
  /** Models whose networks an executor keeps. */
  static final int MODELS = 4;

  /** A network of this JVM and, for a dense-only one, its fast inference path. */
  private record Replica(
      org.deeplearning4j.nn.api.Model net, io.spindle.model.DenseInference dense) {
    float[] forward(float[] x, int rows, int numInputs) {
      return BatchScorer.forward(this, x, rows, numInputs);
    }
  }

  private static final Map<String, Queue<Replica>> NETWORKS = new LinkedHashMap<>(16, 0.75f, true);
  private static final AtomicInteger BUILT = new AtomicInteger();

  private BatchScorer() {}

  /**
   * Extracts the features of one item (throwing a {@link DataFormatException} when they are bad).
   */
  @FunctionalInterface
  public interface Features<T> {
    float[] of(T item);
  }

  /** Makes the output record of one item from its output row. */
  @FunctionalInterface
  public interface Emit<T, R> {
    R of(T item, float[] output);
  }

  /**
   * Scores {@code items} lazily, one batch at a time, with a network of {@code model} borrowed for
   * the whole partition.
   *
   * @param threads ND4J threads per task (the JVM-wide setting, {@link Nd4jRuntime})
   * @param where what is scored (a column or a file), named when an item has the wrong size
   */
  public static <T, R> Iterator<R> score(
      ScoringNetwork model,
      Iterator<T> items,
      Features<T> features,
      Emit<T, R> emit,
      int batchSize,
      int threads,
      String where) {
    if (!items.hasNext()) {
      return java.util.Collections.emptyIterator();
    }
    Nd4jRuntime.selectNativeBuild();
    Nd4jRuntime.configureThreads(threads);
    Replica net = borrow(model);
    org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
    boolean[] returned = {false};
    Runnable giveBack =
        () -> {
          if (!returned[0]) {
            returned[0] = true;
            giveBack(model, net);
          }
        };
    if (task != null) {
      task.addTaskCompletionListener(
          (org.apache.spark.util.TaskCompletionListener) ctx -> giveBack.run());
    }
    return new Iterator<>() {
      private final List<T> batch = new ArrayList<>(batchSize);
      private float[] out;
      private int next;

      @Override
      public boolean hasNext() {
        if (next < batch.size()) {
          return true;
        }
        batch.clear();
        next = 0;
        float[] x = new float[batchSize * model.numInputs()];
        while (batch.size() < batchSize && items.hasNext()) {
          T item = items.next();
          float[] f = features.of(item);
          if (f.length != model.numInputs()) {
            throw new DataFormatException(
                where
                    + ": an example has "
                    + f.length
                    + " features, but the model ("
                    + model.source()
                    + ") takes "
                    + model.numInputs());
          }
          System.arraycopy(f, 0, x, batch.size() * model.numInputs(), f.length);
          batch.add(item);
        }
        if (batch.isEmpty()) {
          giveBack.run();
          return false;
        }
        out = net.forward(x, batch.size(), model.numInputs());
        return true;
      }

      @Override
      public R next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        int k = model.numOutputs();
        float[] row = new float[k];
        System.arraycopy(out, next * k, row, 0, k);
        return emit.of(batch.get(next++), row);
      }
    };
  }

  /** One forward pass (inference mode) of the first {@code rows} rows of {@code x}. */
  private static float[] forward(Replica replica, float[] x, int rows, int numInputs) {
    // One bulk copy into a flat native buffer, then a row-major view of it: copying into a
    // matrix directly would take FlatVector's element-wise path (it bulk-copies vectors only).
    INDArray flatIn = Nd4j.createUninitialized(DataType.FLOAT, (long) rows * numInputs);
    FlatVector.copyInto(x, 0, rows * numInputs, flatIn, 0);
    INDArray in = flatIn.reshape('c', rows, numInputs);
    INDArray out;
    if (replica.dense() != null) {
      out = replica.dense().output(in);
    } else if (replica.net() instanceof MultiLayerNetwork net) {
      DataType type = net.getLayerWiseConfigurations().getDataType();
      out = net.output(type == DataType.FLOAT ? in : in.castTo(type), false);
    } else {
      org.deeplearning4j.nn.graph.ComputationGraph graph =
          (org.deeplearning4j.nn.graph.ComputationGraph) replica.net();
      DataType type = graph.getConfiguration().getDataType();
      out = graph.outputSingle(false, type == DataType.FLOAT ? in : in.castTo(type));
    }
    INDArray flat = out.castTo(DataType.FLOAT).reshape(out.length());
    float[] values = new float[(int) out.length()];
    FlatVector.copyOut(flat, values, 0);
    return values;
  }

  private static Replica borrow(ScoringNetwork model) {
    TaskDevice.bind();
    Queue<Replica> pool;
    synchronized (NETWORKS) {
      pool = NETWORKS.computeIfAbsent(model.id(), k -> new ConcurrentLinkedQueue<>());
      while (NETWORKS.size() > MODELS) {
        Iterator<String> eldest = NETWORKS.keySet().iterator();
        eldest.next();
        eldest.remove();
      }
    }
    Replica net = pool.poll();
    if (net == null) {
      org.deeplearning4j.nn.api.Model built = model.buildModel();
      net =
          new Replica(
              built,
              built instanceof MultiLayerNetwork stack
                  ? io.spindle.model.DenseInference.of(stack)
                  : null);
      BUILT.incrementAndGet();
    }
    return net;
  }

  private static void giveBack(ScoringNetwork model, Replica net) {
    synchronized (NETWORKS) {
      Queue<Replica> pool = NETWORKS.get(model.id());
      if (pool != null) {
        pool.offer(net);
      }
    }
  }

  /** Networks this JVM has built for scoring so far (tests check that they are reused). */
  public static int networksBuilt() {
    return BUILT.get();
  }
}
