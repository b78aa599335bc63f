package io.spindle.worker;

import io.spindle.data.MiniBatch;
import io.spindle.model.EncoderStack;
import io.spindle.runtime.Nd4jRuntime;
import java.util.Iterator;

/**
 * Executor side of layer-wise pre-training: maps a worker's mini-batches, lazily and in order,
 * through the frozen lower layers, giving the input of the layer being pre-trained.
 */
public final class FrozenEncoder {
  private FrozenEncoder() {}

  public static Iterator<MiniBatch> encode(
      EncoderStack stack, int threads, Iterator<MiniBatch> batches) {
    Nd4jRuntime.configureThreads(threads);
    TaskDevice.bind();
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return batches.hasNext();
      }

      @Override
      public MiniBatch next() {
        return stack.encode(batches.next());
      }
    };
  }
}
