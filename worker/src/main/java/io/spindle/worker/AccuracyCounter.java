package io.spindle.worker;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Counts correct predictions of the training forward pass from inside it: DL4J hands listeners the
 * activations while they are still valid, so training accuracy costs no extra forward pass and the
 * network keeps its memory workspaces.
 *
 * <p>{@code MultiLayerNetwork.computeGradientAndScore} passes the activations up to the input of
 * the output layer {@code h}; the predicted class is the arg-max of the output layer's
 * pre-activation {@code h W + b}, since every output activation Spindle offers is monotonic. (The
 * output layer's dropout, if any, is not applied to {@code h} here.)
 */
final class AccuracyCounter extends BaseTrainingListener {
  private final String graphOutputInput;
  private int[] labels;
  private long correct;

  /** A counter for a {@code MultiLayerNetwork}. */
  AccuracyCounter() {
    this(null);
  }

  /**
   * A counter for a {@code ComputationGraph} whose (single) output layer reads the activations of
   * vertex {@code outputInput}: DL4J hands graph listeners every vertex's activations but the
   * output layers', by name.
   */
  AccuracyCounter(String outputInput) {
    this.graphOutputInput = outputInput;
  }

  /** Arms the counter for the next forward pass over a batch with these labels. */
  void expect(int[] labels) {
    this.labels = labels;
    this.correct = 0;
  }

  /** Correct predictions of the last forward pass. */
  long correct() {
    return correct;
  }

  @Override
  public void onForwardPass(Model model, List<INDArray> activations) {
    if (labels == null || activations.isEmpty()) {
      return;
    }
    if (!(model instanceof org.deeplearning4j.nn.multilayer.MultiLayerNetwork net)) {
      return;
    }
    count(activations.get(activations.size() - 1), net.getOutputLayer());
  }

  @Override
  public void onForwardPass(Model model, Map<String, INDArray> activations) {
    if (labels == null || graphOutputInput == null) {
      return;
    }
    if (!(model instanceof ComputationGraph graph) || !activations.containsKey(graphOutputInput)) {
      return;
    }
    count(activations.get(graphOutputInput), graph.getOutputLayer(0));
  }

  private void count(INDArray h, Layer output) {
    INDArray w = output.getParam("W");
    INDArray b = output.getParam("b");
    if (w == null || b == null || h.rank() != 2 || h.columns() != w.rows()) {
      return;
    }
    INDArray predicted = h.mmul(w).addiRowVector(b).argMax(1);
    long c = 0;
    for (int i = 0; i < labels.length; i++) {
      if (predicted.getInt(i) == labels[i]) {
        c++;
      }
    }
    correct = c;
    labels = null;
  }
}
