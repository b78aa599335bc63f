package io.spindle.model;

import io.spindle.config.ReconstructionLoss;
import io.spindle.data.MiniBatch;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;

/**
 * Marks a network as an autoencoder: the label of each example is its own clean input, and the
 * network sees a {@link Corruption corrupted} copy of it (a denoising autoencoder; with no
 * corruption, a plain one). Class labels are not used.
 *
 * @param corruption applied to the inputs, never to the targets
 * @param loss the reconstruction loss
 */
public record Reconstruction(Corruption corruption, ReconstructionLoss loss)
    implements java.io.Serializable {
  public Reconstruction {
    if (corruption == null || loss == null) {
      throw new IllegalArgumentException("corruption and loss are required");
    }
  }

  /**
   * Sets the reconstruction loss on a network whose output layer was built with MSE ({@link
   * ModelFactory} knows only the classifier losses).
   */
  public MultiLayerNetwork configure(MultiLayerNetwork net) {
    if (loss == ReconstructionLoss.BINARY_CROSS_ENTROPY) {
      ((BaseOutputLayer) net.getOutputLayer().conf().getLayer()).setLossFn(new LossBinaryXENT());
    }
    return net;
  }

  /**
   * Forward and backward pass of the autoencoder on {@code batch}: input the batch's features, each
   * example corrupted with its seed under {@code key}, target the clean features. Leaves the summed
   * gradient in the network's flat gradient view and returns the mean loss of the batch.
   */
  public double computeGradient(
      MultiLayerNetwork net, MiniBatch batch, DataType type, StepKey key) {
    INDArray clean = batch.featureArray(type);
    INDArray input =
        corruption.isNone()
            ? clean.dup()
            : new MiniBatch(
                    batch.step(),
                    batch.size(),
                    batch.numFeatures(),
                    corruption.apply(batch.features(), batch.numFeatures(), key),
                    batch.labels())
                .featureArray(type);
    net.setInput(input);
    net.setLabels(clean);
    net.computeGradientAndScore();
    return net.score();
  }

  /** The mean reconstruction loss of {@code batch}'s clean features (no corruption). */
  public double score(MultiLayerNetwork net, MiniBatch batch, DataType type) {
    INDArray clean = batch.featureArray(type);
    return net.score(new org.nd4j.linalg.dataset.DataSet(clean.dup(), clean), false);
  }
}
