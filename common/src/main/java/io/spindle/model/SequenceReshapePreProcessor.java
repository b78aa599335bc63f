package io.spindle.model;

import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.preprocessor.BaseInputPreProcessor;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Reads the flat feature vector of an example as a sequence: {@code [batch, steps * features]},
 * step-major (the features of step 0, then of step 1, ...), becomes DL4J's recurrent layout {@code
 * [batch, features, steps]}; the backward pass undoes it. (DL4J's own {@code
 * FeedForwardToRnnPreProcessor} reads a batch of single time steps, not this.)
 */
public final class SequenceReshapePreProcessor extends BaseInputPreProcessor {
  private static final long serialVersionUID = 1L;
  private final int steps;
  private final int features;

  public SequenceReshapePreProcessor(
      @JsonProperty("steps") int steps, @JsonProperty("features") int features) {
    if (steps <= 0 || features <= 0) {
      throw new IllegalArgumentException(
          "steps and features must be > 0, got " + steps + " and " + features);
    }
    this.steps = steps;
    this.features = features;
  }

  public int getSteps() {
    return steps;
  }

  public int getFeatures() {
    return features;
  }

  @Override
  public INDArray preProcess(INDArray input, int miniBatchSize, LayerWorkspaceMgr workspaceMgr) {
    if (input.rank() != 2 || input.size(1) != (long) steps * features) {
      throw new IllegalArgumentException(
          "expected input [batch, "
              + ((long) steps * features)
              + "] ("
              + steps
              + " steps x "
              + features
              + " features), got "
              + java.util.Arrays.toString(input.shape()));
    }
    INDArray x = input.ordering() == 'c' ? input : input.dup('c');
    INDArray out = x.reshape('c', x.size(0), steps, features).permute(0, 2, 1);
    return workspaceMgr.dup(ArrayType.ACTIVATIONS, out, 'f');
  }

  @Override
  public INDArray backprop(INDArray output, int miniBatchSize, LayerWorkspaceMgr workspaceMgr) {
    if (output == null) {
      return null; // an embedding layer has no gradient with respect to its token ids
    }
    INDArray back = output.permute(0, 2, 1).dup('c');
    return workspaceMgr.leverageTo(
        ArrayType.ACTIVATION_GRAD, back.reshape('c', back.size(0), (long) steps * features));
  }

  @Override
  public InputType getOutputType(InputType inputType) {
    return InputType.recurrent(features, steps);
  }

  @Override
  public Pair<INDArray, MaskState> feedForwardMaskArray(
      INDArray maskArray, MaskState currentMaskState, int minibatchSize) {
    if (maskArray != null) {
      throw new UnsupportedOperationException("masks are not supported for reshaped sequences");
    }
    return new Pair<>(null, currentMaskState);
  }

  @Override
  public SequenceReshapePreProcessor clone() {
    return new SequenceReshapePreProcessor(steps, features);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SequenceReshapePreProcessor p && p.steps == steps && p.features == features;
  }

  @Override
  public int hashCode() {
    return 31 * steps + features;
  }
}
