package io.spindle.worker;

import io.spindle.data.MiniBatch;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * A {@link TrainableNetwork} holding a DL4J {@link MultiLayerNetwork} built by ModelFactory, a
 * classifier or (layer-wise pre-training) an autoencoder; what it shares with the graph's replica
 * is in {@link Dl4jReplica}.
 */
public final class MultiLayerReplica extends Dl4jReplica {
  private final MultiLayerNetwork net;
  private final boolean onePass;

  MultiLayerReplica(ModelSpec spec) {
    this(spec, build(spec));
  }

  private MultiLayerReplica(ModelSpec spec, MultiLayerNetwork net) {
    super(spec, net, new AccuracyCounter(), ParameterRules.of(net, spec.model()));
    this.net = net;
    this.onePass =
        net.getOutputLayer().getClass() == OutputLayer.class
            && oneDataFormat(
                net.getLayerWiseConfigurations().getConfs().stream()
                    .map(NeuralNetConfiguration::getLayer));
  }

  private static MultiLayerNetwork build(ModelSpec spec) {
    MultiLayerNetwork n = ModelFactory.create(spec.model(), spec.numInputs(), spec.seed());
    return spec.reconstruction() == null ? n : spec.reconstruction().configure(n);
  }

  /** The DL4J network (for saving it, and for copying pre-trained layers into it). */
  public MultiLayerNetwork network() {
    return net;
  }

  @Override
  public double computeGradient(MiniBatch batch, StepKey key) {
    KeyedDropout.key(net, key);
    if (spec.reconstruction() != null) {
      counter.expect(null); // an autoencoder has no classes to count
      return spec.reconstruction().computeGradient(net, batch, spec.dataType(), key);
    }
    return classifierGradient(batch);
  }

  @Override
  public INDArray gradient() {
    return net.getFlattenedGradients();
  }

  @Override
  public Evaluation evaluate(MiniBatch batch) {
    if (spec.reconstruction() != null && !batch.isEmpty()) {
      double meanLoss = spec.reconstruction().score(net, batch, spec.dataType());
      return new Evaluation(0, meanLoss * batch.size(), batch.size());
    }
    return evaluateClassifier(batch);
  }

  @Override
  void forwardBackward(INDArray features, INDArray labels) {
    net.setInput(features);
    net.setLabels(labels);
    net.computeGradientAndScore();
  }

  @Override
  INDArray output(INDArray features) {
    return net.output(features, false);
  }

  @Override
  double score(DataSet data) {
    return net.score(data, false);
  }

  /**
   * One forward pass for both, where the output layer is DL4J's plain dense {@link OutputLayer} and
   * the layers share their data formats. DL4J's {@code score(data, false)} runs the layers below
   * the output layer, preprocesses the last activation for the output layer, hands it to that layer
   * and returns the layer's {@code computeScore(calcRegularizationScore(true), false, mgr)}; {@code
   * output} runs the same layers and then the output layer's {@code activate} on the same input.
   * Here the layers below run once, through the public {@code feedForwardToLayer} (inference mode,
   * the same layer calls as the protected pass {@code output} and {@code score} use), and both
   * continue from its last activation.
   *
   * <p>{@code feedForwardToLayer} returns every activation outside DL4J's workspaces, where only
   * the garbage collector would free them, and it runs rarely (a small Java heap footprint per
   * slice): on mnist-cnn's network they are 68 MB per slice of 200, and they pile up by gigabytes
   * over a test set. So the activations that nothing returned from here shares memory with are
   * freed as soon as the slice is scored.
   */
  @Override
  Scored outputAndScore(INDArray features, INDArray labels) {
    if (!onePass) {
      return super.outputAndScore(features, labels);
    }
    int last = net.getnLayers() - 1;
    List<INDArray> below =
        last == 0 ? List.of(features) : net.feedForwardToLayer(last - 1, features, false);
    INDArray input = below.get(below.size() - 1);
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    InputPreProcessor pre = net.getLayerWiseConfigurations().getInputPreProcess(last);
    INDArray preprocessed =
        pre == null ? input : pre.preProcess(input, (int) features.size(0), mgr);
    IOutputLayer out = (IOutputLayer) net.getOutputLayer();
    INDArray output = out.activate(preprocessed, false, mgr);
    out.setLabels(labels);
    double meanLoss = out.computeScore(net.calcRegularizationScore(true), false, mgr);
    net.clearLayersStates();
    List<INDArray> garbage = new ArrayList<>(below);
    garbage.add(preprocessed);
    release(garbage, features, output);
    return new Scored(output, meanLoss);
  }

  @Override
  boolean scoresInOnePass() {
    return onePass;
  }
}
