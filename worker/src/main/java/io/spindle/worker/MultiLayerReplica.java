package io.spindle.worker;

import io.spindle.data.MiniBatch;
import io.spindle.model.KeyedDropout;
import io.spindle.model.ModelFactory;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.deeplearning4j.nn.api.FwdPassType;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * A {@link TrainableNetwork} holding a DL4J {@link MultiLayerNetwork} built by ModelFactory, a
 * classifier or (layer-wise pre-training) an autoencoder; what it shares with the graph's replica
 * is in {@link Dl4jReplica}.
 */
public final class MultiLayerReplica extends Dl4jReplica {
  private static final Method OUTPUT_OF_LAYER = outputOfLayerDetached();
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
   * the layers share their data formats. DL4J's {@code output} and {@code score(data, false)} both
   * run the layers below the output layer with {@code outputOfLayerDetached} (inference workspaces,
   * only the last activation kept); {@code output} then preprocesses that activation and runs the
   * output layer, and {@code score} preprocesses it, hands it to the output layer and adds {@code
   * calcRegularizationScore(true)} in its {@code computeScore}. Here the layers below run once,
   * through that same method, and both continue from its result.
   */
  @Override
  Scored outputAndScore(INDArray features, INDArray labels) {
    if (!onePass) {
      return super.outputAndScore(features, labels);
    }
    int last = net.getnLayers() - 1;
    INDArray input = belowOutputLayer(features, last - 1);
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    InputPreProcessor pre = net.getLayerWiseConfigurations().getInputPreProcess(last);
    if (pre != null) {
      input = pre.preProcess(input, (int) features.size(0), mgr);
    }
    IOutputLayer out = (IOutputLayer) net.getOutputLayer();
    INDArray output = out.activate(input, false, mgr);
    out.setLabels(labels);
    double meanLoss = out.computeScore(net.calcRegularizationScore(true), false, mgr);
    net.clearLayersStates();
    return new Scored(output, meanLoss);
  }

  /**
   * DL4J's {@code outputOfLayerDetached(false, STANDARD, layer, features, null, null, null)}, the
   * inference pass {@code output} and {@code score} use. It is protected; its public neighbours
   * ({@code feedForward}, {@code activateSelectedLayers}) run the same layers without workspaces,
   * so every activation of every slice would become garbage outside the Java heap (measured: the
   * peak resident size of a one-epoch mnist-cnn run went from 2.0 GB to 4.9 GB).
   */
  private INDArray belowOutputLayer(INDArray features, int layer) {
    try {
      return (INDArray)
          OUTPUT_OF_LAYER.invoke(
              net, false, FwdPassType.STANDARD, layer, features, null, null, null);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  private static Method outputOfLayerDetached() {
    try {
      Method m =
          MultiLayerNetwork.class.getDeclaredMethod(
              "outputOfLayerDetached",
              boolean.class,
              FwdPassType.class,
              int.class,
              INDArray.class,
              INDArray.class,
              INDArray.class,
              MemoryWorkspace.class);
      m.setAccessible(true);
      return m;
    } catch (NoSuchMethodException e) {
      throw new IllegalStateException(
          "DL4J's MultiLayerNetwork has no outputOfLayerDetached(boolean, FwdPassType, int,"
              + " INDArray, INDArray, INDArray, MemoryWorkspace) (DL4J 1.0.0-M2.1 has)",
          e);
    }
  }

  @Override
  boolean scoresInOnePass() {
    return onePass;
  }
}
