package io.spindle.worker.collective;

import io.spindle.compress.CompressionState;
import io.spindle.compress.GradientLayout;
import io.spindle.config.CompressionSpec;
import java.nio.FloatBuffer;

/**
 * How the workers of a collective round combine their gradients each step: one implementation per
 * {@code cluster.compression}, built by {@link #create}. {@link CollectiveTrainer} calls {@link
 * #reduce} once per step after the backward pass and before the global step; the exchange owns its
 * buffers and its state between steps (error-feedback residuals, PowerSGD's warm start) and hands
 * that state back at the end of the round ({@link #state}), so the driver can commit it with the
 * parameters and a relaunched round, a resume or a re-formed ring continue from it.
 *
 * <table>
 *   <caption>Exchanges per step (n values, N workers)</caption>
 *   <tr><th>scheme</th><th>ring operations</th><th>bytes sent per worker</th></tr>
 *   <tr><td>none</td><td>fp32 all-reduce (ZeRO-1: reduce-scatter)</td><td>2(N-1)/N 4n
 *       (ZeRO-1: (N-1)/N 4n, plus the parameters' all-gather)</td></tr>
 *   <tr><td>bf16</td><td>the same in bf16, every rounding kept as error feedback</td>
 *       <td>half of none's</td></tr>
 *   <tr><td>powersgd</td><td>fp32 all-reduce of the P factors and the uncompressed vectors, then
 *       of the Q factors</td><td>2(N-1)/N 4 (|P| + |Q|)</td></tr>
 *   <tr><td>topk</td><td>fp32 all-gather of every worker's k (index, value) pairs</td>
 *       <td>(N-1) 8k</td></tr>
 * </table>
 *
 * Every worker ends a step with the same bits on the ranges it shares with another: the result
 * depends only on what the ring delivered, which is the same everywhere. A later overlap of the
 * ring with the backward pass would call an exchange per bucket of layers; the interface keeps the
 * whole-vector call until then.
 */
public interface GradientExchange {
  /** Tags of a step's ring operations (checked in every block header). */
  int FIRST_TAG = 0;

  int SECOND_TAG = 1;

  /** The parameters' all-gather of ZeRO-1, after the update. */
  int PARAMETERS_TAG = 3;

  /**
   * Replaces {@code gradient[from, to)} (this worker's gradient summed over its share of the step's
   * batch; the array holds the whole flat vector) by the sum over all workers, exactly or
   * compressed. {@code [from, to)} is the range this worker updates: the whole vector when every
   * worker applies the global step, its ZeRO-1 chunk ({@code TcpRing.bounds(n, N)[rank..rank+1]})
   * when the optimiser is sharded. Values outside the range are undefined afterwards.
   *
   * @param iteration the global step, which the ring's block headers carry
   */
  void reduce(float[] gradient, int from, int to, long iteration);

  /**
   * As {@link #reduce(float[], int, int, long)}, with this worker's gradient in native memory,
   * {@code local} (index i holding value i: {@code FlatVector.nativeView} of the network's
   * gradient), instead of in {@code gradient}, whose values are not read; {@code local} null: the
   * gradient is in {@code gradient}. The result is in {@code gradient[from, to)} as there, the same
   * bits. An exchange that needs the whole gradient on the heap copies it first (this default); the
   * exact one lets the ring read the chunks from {@code local} where it needs them.
   */
  default void reduce(FloatBuffer local, float[] gradient, int from, int to, long iteration) {
    if (local != null) {
      local.get(0, gradient, 0, gradient.length);
    }
    reduce(gradient, from, to, iteration);
  }

  /** The state to continue from, or null for an exchange that keeps none. Between steps only. */
  CompressionState state();

  /** The exchange of {@code spec}'s scheme for {@code ring}. */
  static GradientExchange create(
      CompressionSpec spec, TcpRing ring, GradientLayout layout, long seed) {
    return switch (spec.scheme()) {
      case NONE -> new ExactExchange(ring, layout.length());
      case BF16 -> new Bf16Exchange(ring, layout);
      case POWERSGD -> new PowerSgdExchange(ring, layout, spec.rank(), seed);
      case TOPK -> new TopKExchange(ring, layout, spec.fraction());
    };
  }

  /**
   * Continues from {@code state} (null: from the start); refuses a state of another scheme, layout
   * or rank with what was expected and found.
   */
  void restore(CompressionState state);
}
