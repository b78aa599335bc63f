package io.spindle.worker;

import io.spindle.data.BatchLayout;
import io.spindle.data.MiniBatch;
import io.spindle.model.StepKey;
import io.spindle.optim.GlobalStep;
import io.spindle.sync.AveragingAggregator;
import io.spindle.sync.Evaluation;
import io.spindle.sync.GradientAggregator;
import io.spindle.tensor.FlatVector;
import java.util.Iterator;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The executor side of training: what one Spark task does with one partition's mini-batches. It
 * never loops over epochs and never owns global state; the driver sends parameters (and optimiser
 * state) in and merges what comes back. The network is reached only through {@link
 * TrainableNetwork}, the global update only through {@link GlobalStep}.
 */
public final class PartitionTrainer {
  private PartitionTrainer() {}

  /**
   * The random key of worker {@code worker}'s share of step {@code step} of the epoch, at global
   * step {@code iteration}: dropout masks and corruption follow the examples' indices in the global
   * batch, not the worker.
   */
  public static StepKey key(
      ModelSpec spec, BatchLayout layout, int worker, int step, long iteration) {
    return new StepKey(spec.seed(), iteration, layout.firstExample(step, worker));
  }

  /**
   * Synchronous gradient sharing: the summed loss gradient over worker {@code worker}'s share of
   * step {@code step} (global step {@code iteration}) at {@code params}.
   */
  public static GradientAggregator gradient(
      ModelSpec spec,
      BatchLayout layout,
      int worker,
      FlatVector params,
      Iterator<MiniBatch> partition,
      int step,
      long iteration) {
    MiniBatch batch = new StepCursor(partition, step).next();
    if (batch.isEmpty()) {
      return GradientAggregator.empty();
    }
    return NetworkPool.withNetwork(
        spec,
        net -> {
          params.copyTo(net.params());
          double meanLoss = net.computeGradient(batch, key(spec, layout, worker, step, iteration));
          return GradientAggregator.empty()
              .add(
                  FlatVector.copyOf(net.gradient()),
                  meanLoss * batch.size(),
                  batch.size(),
                  net.correctOfLastForward());
        });
  }

  /**
   * Parameter averaging: {@code steps} local global steps from {@code params} and {@code state},
   * over this worker's shares of steps {@code firstStep...} (global steps {@code
   * firstIteration...}), each the {@link GlobalStep} of the worker's own mean gradient; returns the
   * end point weighted by the examples seen.
   */
  public static AveragingAggregator localSteps(
      ModelSpec spec,
      BatchLayout layout,
      int worker,
      FlatVector params,
      FlatVector state,
      Iterator<MiniBatch> partition,
      int firstStep,
      int steps,
      long firstIteration) {
    StepCursor cursor = new StepCursor(partition, firstStep);
    return NetworkPool.withNetwork(
        spec,
        net -> {
          INDArray w = net.params();
          params.copyTo(w);
          GlobalStep update = GlobalStep.create(spec.optimizer(), net.rules());
          update.setState(state.toINDArray());
          double lossSum = 0;
          long examples = 0;
          long correct = 0;
          for (int done = 0; done < steps; done++) {
            int step = cursor.step();
            MiniBatch batch = cursor.next();
            if (batch.isEmpty()) {
              continue;
            }
            long iteration = firstIteration + done;
            double meanLoss =
                net.computeGradient(batch, key(spec, layout, worker, step, iteration));
            correct += net.correctOfLastForward();
            update.apply(w, net.gradient(), batch.size(), iteration);
            lossSum += meanLoss * batch.size();
            examples += batch.size();
          }
          return AveragingAggregator.empty()
              .add(
                  FlatVector.copyOf(w),
                  FlatVector.copyOf(update.state()),
                  lossSum,
                  examples,
                  correct,
                  steps);
        });
  }

  /** Test-set accuracy and summed loss of {@code params} over this partition's batches. */
  public static Evaluation evaluate(ModelSpec spec, FlatVector params, Iterator<MiniBatch> it) {
    return NetworkPool.withNetwork(
        spec,
        net -> {
          params.copyTo(net.params());
          Evaluation total = Evaluation.empty();
          while (it.hasNext()) {
            total = total.merge(net.evaluate(it.next()));
          }
          return total;
        });
  }
}
