package io.spindle.model;

import java.util.function.Function;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Replaces layers of an initialised network by Spindle's subclasses of DL4J's layers, which then
 * share the replaced layer's index, listeners, parameter table and its slices of the network's flat
 * parameter and gradient views, so nothing is copied and the network's flat vectors stay the truth.
 */
final class LayerSwap {
  private LayerSwap() {}

  /**
   * @param replacement for each layer, a new unbound layer to take its place, or null to keep it
   */
  static void replace(MultiLayerNetwork net, Function<Layer, Layer> replacement) {
    net.initGradientsView(); // DL4J makes the flat gradient view lazily; the layers share it
    Layer[] layers = net.getLayers().clone();
    INDArray params = net.params().reshape(net.numParams());
    INDArray gradients = net.getFlattenedGradients().reshape(net.numParams());
    boolean changed = false;
    long offset = 0;
    for (int i = 0; i < layers.length; i++) {
      Layer old = layers[i];
      long n = old.numParams();
      Layer l = replacement.apply(old);
      if (l != null) {
        l.setIndex(old.getIndex());
        l.setListeners(old.getListeners());
        l.setParamsViewArray(params.get(NDArrayIndex.interval(offset, offset + n)));
        l.setParamTable(old.paramTable(false)); // views of the same flat vector
        l.setBackpropGradientsViewArray(gradients.get(NDArrayIndex.interval(offset, offset + n)));
        layers[i] = l;
        changed = true;
      }
      offset += n;
    }
    if (changed) {
      net.setLayers(layers);
    }
  }

  /**
   * The same for a graph: the replacement takes the old layer's place in the graph's layer array
   * and in its layer vertex, with the old layer's views of the flat parameter and gradient vectors.
   */
  static void replace(ComputationGraph net, Function<Layer, Layer> replacement) {
    net.initGradientsView();
    Layer[] layers = net.getLayers();
    for (GraphVertex v : net.getVertices()) {
      if (!(v instanceof LayerVertex lv)) {
        continue;
      }
      Layer old = lv.getLayer();
      Layer l = replacement.apply(old);
      if (l == null) {
        continue;
      }
      l.setIndex(old.getIndex());
      l.setListeners(old.getListeners());
      l.setParamsViewArray(old.params());
      l.setParamTable(old.paramTable(false));
      if (old.numParams() > 0) {
        l.setBackpropGradientsViewArray(old.getGradientsViewArray());
      }
      lv.setLayer(l);
      for (int i = 0; i < layers.length; i++) {
        if (layers[i] == old) {
          layers[i] = l;
        }
      }
    }
  }
}
