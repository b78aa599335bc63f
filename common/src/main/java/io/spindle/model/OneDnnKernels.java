package io.spindle.model;

import io.spindle.runtime.Nd4jRuntime;
import java.lang.reflect.Field;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.layers.convolution.subsampling.SubsamplingLayer;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNBatchNormHelper;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNConvHelper;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNSubsamplingHelper;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Routes a network's 2-D convolution, pooling and batch-norm layers through the oneDNN kernels of
 * ND4J's native library, when the loaded library has them and the network is float32.
 *
 * <p>DL4J 1.0.0-M2.1 ships helpers that call those kernels, but never enables them: its check
 * ({@code BaseMKLDNNHelper.mklDnnEnabled}) looks up a class, {@code
 * org.nd4j.nativeblas.Nd4jCpu$Environment}, that moved in that release, so every layer falls back
 * to DL4J's own im2col path (3x slower for the MNIST CNN on this CPU: 105 against 350 samples/s per
 * thread). This sets the layers' helper fields directly. The helpers compute the same gradients as
 * DL4J's own path, to float32 rounding ({@code OneDnnKernelsTest}); double-precision networks
 * (gradient checks) keep DL4J's path.
 */
public final class OneDnnKernels {
  private OneDnnKernels() {}

  /** Installs the helpers; returns how many layers now use oneDNN. */
  public static int install(MultiLayerNetwork net) {
    return install(net.getLayers(), net.getLayerWiseConfigurations().getDataType());
  }

  /** Installs the helpers on a graph's layers; returns how many layers now use oneDNN. */
  public static int install(ComputationGraph net) {
    return install(net.getLayers(), net.getConfiguration().getDataType());
  }

  private static int install(Layer[] layers, DataType type) {
    if (type != DataType.FLOAT || !Nd4jRuntime.hasOneDnn()) {
      return 0;
    }
    int installed = 0;
    for (Layer l : layers) {
      Class<?> c = l.getClass();
      if (c == ConvolutionLayer.class) {
        set(l, ConvolutionLayer.class, new MKLDNNConvHelper(DataType.FLOAT));
      } else if (c == SubsamplingLayer.class) {
        set(l, SubsamplingLayer.class, new MKLDNNSubsamplingHelper(DataType.FLOAT));
      } else if (c == BatchNormalization.class) {
        set(l, BatchNormalization.class, new MKLDNNBatchNormHelper(DataType.FLOAT));
      } else {
        continue;
      }
      installed++;
    }
    return installed;
  }

  /** Whether layer {@code l} uses a oneDNN helper. */
  public static boolean installed(Layer l) {
    return l.getHelper() != null && l.getHelper().getClass().getName().contains(".mkldnn.");
  }

  private static void set(Layer layer, Class<?> declaring, Object helper) {
    try {
      Field f = declaring.getDeclaredField("helper");
      f.setAccessible(true);
      f.set(layer, helper);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(
          "expected a field 'helper' in " + declaring.getName() + " (DL4J 1.0.0-M2.1)", e);
    }
  }
}
