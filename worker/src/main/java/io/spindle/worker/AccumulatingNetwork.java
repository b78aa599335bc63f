package io.spindle.worker;

import io.spindle.compress.GradientLayout;
import io.spindle.data.MiniBatch;
import io.spindle.model.ParameterRules;
import io.spindle.model.StepKey;
import io.spindle.sync.Evaluation;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradient accumulation ({@code training.accumulate: K}): a replica that computes a worker's share
 * of a global step in K micro-batches of near-equal size (rows {@code [m n / K, (m + 1) n / K)} of
 * the share's n) and leaves their summed gradient in {@link #gradient()}. Every sync mode sees a
 * share's summed gradient exactly as without accumulation, so the exchange and the global step are
 * unchanged: the step of a global batch B is the same step whether a share is computed at once or
 * in K parts, up to float rounding of the sum.
 *
 * <p>Each micro-batch's random draws (dropout masks, corruption) use the key of its first example
 * in the global batch ({@code firstExample + m n / K}), so they are the draws of the undivided
 * share. The one stated exception is batch normalisation: it normalises with each micro-batch's
 * statistics, as it does with each worker's (there is no synchronised batch norm), and its
 * running-statistics updates are summed per micro-batch as they are per worker.
 */
public final class AccumulatingNetwork implements TrainableNetwork {
  private final TrainableNetwork net;
  private final int micro;
  private INDArray sum;
  private boolean accumulated;
  private long correct;

  public AccumulatingNetwork(TrainableNetwork net, int micro) {
    if (micro < 1) {
      throw new IllegalArgumentException("accumulate must be >= 1, got " + micro);
    }
    this.net = net;
    this.micro = micro;
  }

  @Override
  public INDArray params() {
    return net.params();
  }

  @Override
  public ParameterRules rules() {
    return net.rules();
  }

  @Override
  public GradientLayout gradientLayout() {
    return net.gradientLayout();
  }

  @Override
  public io.spindle.config.Precision computePrecision() {
    return net.computePrecision();
  }

  @Override
  public double computeGradient(MiniBatch batch, StepKey key) {
    int n = batch.size();
    if (micro == 1 || n <= 1) {
      accumulated = false;
      return net.computeGradient(batch, key);
    }
    double lossSum = 0;
    long right = 0;
    boolean first = true;
    for (int m = 0; m < micro; m++) {
      int from = (int) ((long) m * n / micro);
      int to = (int) ((long) (m + 1) * n / micro);
      if (from == to) {
        continue;
      }
      StepKey part = new StepKey(key.seed(), key.step(), key.firstExample() + from);
      double meanLoss = net.computeGradient(batch.rows(from, to), part);
      lossSum += meanLoss * (to - from);
      right += net.correctOfLastForward();
      INDArray g = net.gradient();
      if (first) {
        if (sum == null || sum.length() != g.length() || sum.dataType() != g.dataType()) {
          sum = g.dup();
        } else {
          sum.assign(g);
        }
        first = false;
      } else {
        sum.addi(g);
      }
    }
    accumulated = true;
    correct = right;
    return lossSum / n;
  }

  @Override
  public INDArray gradient() {
    return accumulated ? sum : net.gradient();
  }

  @Override
  public long correctOfLastForward() {
    return accumulated ? correct : net.correctOfLastForward();
  }

  @Override
  public Evaluation evaluate(MiniBatch batch) {
    return net.evaluate(batch);
  }
}
