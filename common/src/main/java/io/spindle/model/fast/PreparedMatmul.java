package io.spindle.model.fast;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOps;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * One matrix product {@code out = op(a) op(b)} on fixed arrays, prepared once and run many times:
 * libnd4j's matmul op (oneDNN's matmul on the CPU backend), the same native op with the same
 * inputs, output and integer arguments as {@code Nd4j.exec(DynamicCustomOp.builder("matmul")...)}
 * ({@link DenseStack#matmul}), so the same bits ({@code PreparedMatmulTest}).
 *
 * <p>Why: {@code Nd4j.exec} of a freshly built op runs a deep Java path on every call (the op's
 * builder and its random instance id from {@code SecureRandom}, a native op context created and
 * freed, the executioner's profiling and workspace hooks, the thread's random state copied in and
 * out). A step calls it a few times, so HotSpot compiles that path with C2 only after hundreds of
 * steps, and those compilations (about a second of one core in a 2-epoch MNIST run) take the core a
 * worker needs while the collective's steps run (docs/steady-step.md). Here the op context is built
 * once and a call is one native call.
 *
 * <p>Not thread-safe: one per thread, like the arrays it holds. {@link #close} frees the native
 * context.
 */
final class PreparedMatmul implements AutoCloseable {
  private static volatile long hash;

  private final OpContext context;
  private final NativeOps ops;
  private final long opHash;
  private final INDArray a;
  private final INDArray b;
  private final INDArray out;

  PreparedMatmul(INDArray a, INDArray b, INDArray out, boolean transA, boolean transB) {
    this.a = a;
    this.b = b;
    this.out = out;
    this.ops = NativeOpsHolder.getInstance().getDeviceNativeOps();
    this.opHash = matmulHash();
    OpContext c = Nd4j.getExecutioner().buildContext();
    // as NativeOpExecutioner.exec(CustomOp) fills a context for an op with its output given
    c.markInplace(false);
    c.setInputArray(0, a);
    c.setInputArray(1, b);
    c.setOutputArray(0, out);
    c.setIArguments(transA ? 1 : 0, transB ? 1 : 0, 0);
    this.context = c;
  }

  private static long matmulHash() {
    long h = hash;
    if (h == 0) {
      h = DynamicCustomOp.builder("matmul").build().opHash();
      hash = h;
    }
    return h;
  }

  /** Whether this product runs on exactly these arrays (the same objects). */
  boolean on(INDArray a, INDArray b, INDArray out) {
    return this.a == a && this.b == b && this.out == out;
  }

  /** Runs the product into its output. */
  void run() {
    int status = ops.execCustomOp2(null, opHash, context.contextPointer());
    if (status != 0) {
      throw new IllegalStateException(
          "matmul "
              + java.util.Arrays.toString(a.shape())
              + " x "
              + java.util.Arrays.toString(b.shape())
              + " -> "
              + java.util.Arrays.toString(out.shape())
              + " failed (status "
              + status
              + "): "
              + ops.lastErrorMessage());
    }
  }

  @Override
  public void close() {
    try {
      context.close();
    } catch (Exception e) {
      throw new IllegalStateException("cannot free a matmul's op context: " + e, e);
    }
  }
}
