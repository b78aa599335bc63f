package io.spindle.worker;

import io.spindle.data.MiniBatch;
import io.spindle.model.MaxNorm;
import io.spindle.model.RawUpdateRanges;
import io.spindle.model.Regularization;
import io.spindle.optim.FlatOptimizer;
import io.spindle.sync.AveragingAggregator;
import io.spindle.sync.Evaluation;
import io.spindle.sync.GradientAggregator;
import io.spindle.tensor.FlatVector;
import java.util.Iterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The executor side of training: what one Spark task does with one partition's mini-batches. It
 * never loops over epochs and never owns global state; the driver sends parameters (and optimiser
 * state) in and merges what comes back.
 */
public final class PartitionTrainer {
  /** Test examples per forward pass in {@link #evaluate}. */
  static final int EVAL_SLICE = 200;

  private PartitionTrainer() {}

  /**
   * The seed of worker {@code worker}'s dropout masks at global iteration {@code iteration}: the
   * same in every sync strategy, so they train on the same masks.
   */
  public static long dropoutSeed(long seed, long iteration, int worker) {
    long z = seed + 0x9E3779B97F4A7C15L * (iteration * 1024 + worker + 1);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /**
   * Synchronous gradient sharing: the summed loss gradient over this worker's share of one step at
   * {@code params}. Dropout masks are drawn from a generator seeded by (seed, step, worker).
   */
  public static GradientAggregator gradient(
      ModelSpec spec, FlatVector params, MiniBatch batch, long dropoutSeed) {
    if (batch.isEmpty()) {
      return GradientAggregator.empty();
    }
    return NetworkPool.withNetwork(
        spec,
        net -> {
          params.copyTo(net.params());
          Nd4j.getRandom().setSeed(dropoutSeed);
          double meanLoss = computeGradient(net, spec, batch);
          return GradientAggregator.empty()
              .add(
                  FlatVector.copyOf(net.getFlattenedGradients()),
                  meanLoss * batch.size(),
                  batch.size(),
                  correctOfLastForward(net, batch));
        });
  }

  /**
   * Parameter averaging: up to {@code steps} local optimiser steps from {@code params} and {@code
   * state} over the next mini-batches, at global iterations {@code firstIteration...}; returns the
   * end point weighted by the examples seen.
   */
  public static AveragingAggregator localSteps(
      ModelSpec spec,
      FlatVector params,
      FlatVector state,
      Iterator<MiniBatch> batches,
      int steps,
      long firstIteration,
      long dropoutSeed) {
    return NetworkPool.withNetwork(
        spec,
        net -> {
          INDArray w = net.params();
          params.copyTo(w);
          FlatOptimizer optimizer =
              FlatOptimizer.create(spec.optimizer(), w.length(), w.dataType());
          optimizer.setState(state.toINDArray());
          optimizer.rawUpdates(RawUpdateRanges.of(net));
          MaxNorm maxNorm = MaxNorm.of(net, spec.model().maxNorm());
          Regularization reg = Regularization.of(net, spec.model().l1(), spec.model().l2());
          double lossSum = 0;
          long examples = 0;
          long correct = 0;
          int done = 0;
          while (done < steps && batches.hasNext()) {
            MiniBatch batch = batches.next();
            if (!batch.isEmpty()) {
              Nd4j.getRandom().setSeed(dropoutSeed + done);
              double meanLoss = computeGradient(net, spec, batch);
              correct += correctOfLastForward(net, batch);
              INDArray g = net.getFlattenedGradients().divi(batch.size());
              reg.addGradient(w, g);
              optimizer.step(w, g, firstIteration + done);
              maxNorm.apply(w);
              lossSum += meanLoss * batch.size();
              examples += batch.size();
            }
            done++;
          }
          return AveragingAggregator.empty()
              .add(
                  FlatVector.copyOf(w),
                  FlatVector.copyOf(optimizer.state()),
                  lossSum,
                  examples,
                  correct,
                  done);
        });
  }

  /** Test-set accuracy and summed loss of {@code params} over this partition's batches. */
  public static Evaluation evaluate(ModelSpec spec, FlatVector params, Iterator<MiniBatch> it) {
    return NetworkPool.withNetwork(
        spec,
        net -> {
          params.copyTo(net.params());
          Evaluation total = Evaluation.empty();
          DataType type = spec.dataType();
          while (it.hasNext()) {
            MiniBatch batch = it.next();
            if (batch.isEmpty()) {
              continue;
            }
            if (spec.reconstruction() != null) {
              double meanLoss = spec.reconstruction().score(net, batch, type);
              total = total.merge(new Evaluation(0, meanLoss * batch.size(), batch.size()));
              continue;
            }
            INDArray x = batch.featureArray(type);
            INDArray y = batch.oneHotLabels(type, spec.numClasses());
            // slices of at most EVAL_SLICE examples: a convolution's activations for a
            // 1000-example test batch would take gigabytes
            for (int from = 0; from < batch.size(); from += EVAL_SLICE) {
              int to = Math.min(batch.size(), from + EVAL_SLICE);
              INDArray xs = x.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
              INDArray ys = y.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
              INDArray out = net.output(xs, false);
              long correct = countCorrect(out, batch, from);
              long top5 = Evaluation.correctInTopK(out, batch.labels(), from, 5);
              double meanLoss = net.score(new org.nd4j.linalg.dataset.DataSet(xs, ys), false);
              total = total.merge(new Evaluation(correct, top5, meanLoss * (to - from), to - from));
            }
          }
          return total;
        });
  }

  /** Correct predictions of the last training forward pass (see {@link AccuracyCounter}). */
  public static long correctOfLastForward(MultiLayerNetwork net, MiniBatch batch) {
    return counter(net).correct();
  }

  private static AccuracyCounter counter(MultiLayerNetwork net) {
    for (var l : net.getListeners()) {
      if (l instanceof AccuracyCounter c) {
        return c;
      }
    }
    AccuracyCounter c = new AccuracyCounter();
    net.addListeners(c);
    return c;
  }

  /** Correct predictions of {@code out}, the outputs for examples {@code from...} of the batch. */
  private static long countCorrect(INDArray out, MiniBatch batch, int from) {
    INDArray predicted = out.argMax(1);
    long correct = 0;
    for (int i = 0; i < out.size(0); i++) {
      if (predicted.getInt(i) == batch.labels()[from + i]) {
        correct++;
      }
    }
    return correct;
  }

  /**
   * Forward and backward pass (of an autoencoder: on the corrupted features against the clean ones,
   * see {@link io.spindle.model.Reconstruction}); leaves the summed gradient in the network's flat
   * gradient view and returns the mean loss of the batch. Raw-update entries (batch-norm
   * statistics, {@link RawUpdateRanges}) hold their update times the batch size, so that dividing
   * by the examples gives back the update (or, summed over workers, the example-weighted mean of
   * their updates).
   */
  public static double computeGradient(MultiLayerNetwork net, ModelSpec spec, MiniBatch batch) {
    DataType type = spec.dataType();
    if (spec.reconstruction() != null) {
      counter(net).expect(null); // an autoencoder has no classes to count
      return spec.reconstruction()
          .computeGradient(net, batch, type, io.spindle.model.Reconstruction.stepSeed());
    }
    counter(net).expect(batch.labels());
    net.setInput(batch.featureArray(type));
    net.setLabels(batch.oneHotLabels(type, spec.numClasses()));
    net.computeGradientAndScore();
    // batch-norm statistics carry a per-batch update, not a sum over examples: make it one
    RawUpdateRanges.of(net).scaleToSum(net.getFlattenedGradients(), batch.size());
    return net.score();
  }
}
